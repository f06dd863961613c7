// SLW-MON-3, EVC-MON-1: datums (WGS-84 ↔ GCJ-02), the one rule for which datum a position is
// drawn in, the map projection, and the offline base map shipped in public/geo/.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { convertDatum, distanceM, gcj02ToWgs84, inMainlandChina, wgs84ToGcj02 } from '@/geo/coords'
import {
  basemapDatum,
  basemapOf,
  clearOutlineCache,
  collectionBbox,
  enclosingRegion,
  frameView,
  loadOutlines,
  majorityRegion,
  mapName,
  mercator,
  OFFLINE_OUTLINE_DATUM,
  outlineUrl,
  regionAt,
  regionNameMap,
  toMapDatum,
  wholeView,
  type RegionCollection,
} from '@/geo/basemap'

const GEO = join(__dirname, '..', 'public', 'geo')
const readGeo = (rel: string) => JSON.parse(readFileSync(join(GEO, rel), 'utf8')) as RegionCollection

/** Published eviltransform test vectors: [wgsLat, wgsLon, gcjLat, gcjLon]. */
const VECTORS = [
  [31.1774276, 121.5272106, 31.17530398364597, 121.531541859215], // Shanghai
  [22.543847, 113.912316, 22.540796131694766, 113.9171764808363], // Shenzhen
  [39.911954, 116.377817, 39.91334545536069, 116.38404722455657], // Beijing
] as const

describe('WGS-84 ↔ GCJ-02', () => {
  it('SLW-MON-3: WGS-84 → GCJ-02 matches the published reference vectors', () => {
    for (const [wLat, wLon, gLat, gLon] of VECTORS) {
      const g = wgs84ToGcj02({ lat: wLat, lon: wLon })
      expect(g.lat).toBeCloseTo(gLat, 8)
      expect(g.lon).toBeCloseTo(gLon, 8)
    }
  })

  it('SLW-MON-3: Tiananmen (WGS-84 39.9087, 116.3975) is about (39.910, 116.404) in GCJ-02, a few hundred metres away', () => {
    const g = wgs84ToGcj02({ lat: 39.9087, lon: 116.3975 })
    expect(g.lat).toBeCloseTo(39.91, 2)
    expect(g.lon).toBeCloseTo(116.404, 2)
    const d = distanceM({ lat: 39.9087, lon: 116.3975 }, g)
    expect(d).toBeGreaterThan(300)
    expect(d).toBeLessThan(700)
  })

  it('SLW-MON-3: the inverse recovers WGS-84 within 0.5 m across mainland China', () => {
    const samples: [number, number][] = [
      ...VECTORS.map(([la, lo]) => [la, lo] as [number, number]),
      [22.5431, 114.0579], // Shenzhen, the simulator's centre
      [45.75, 126.65], // Harbin
      [43.82, 87.61], // Ürümqi
      [29.65, 91.13], // Lhasa
      [18.25, 109.5], // Sanya
    ]
    for (let lat = 20; lat <= 50; lat += 5) for (let lon = 100; lon <= 125; lon += 5) samples.push([lat + 0.123, lon + 0.456])
    for (const [lat, lon] of samples.filter(([la, lo]) => inMainlandChina(la, lo))) {
      const back = gcj02ToWgs84(wgs84ToGcj02({ lat, lon }))
      expect(distanceM({ lat, lon }, back)).toBeLessThan(0.5)
    }
    for (const [wLat, wLon, gLat, gLon] of VECTORS) {
      expect(distanceM({ lat: wLat, lon: wLon }, gcj02ToWgs84({ lat: gLat, lon: gLon }))).toBeLessThan(0.5)
    }
  })

  it('SLW-MON-3: no offset outside mainland China (abroad, Taiwan, Korea, Japan)', () => {
    const outside = [
      { lat: 51.5007, lon: -0.1246 }, // London
      { lat: 39.7392, lon: -104.9903 }, // Denver
      { lat: 35.6812, lon: 139.7671 }, // Tokyo
      { lat: 37.5665, lon: 126.978 }, // Seoul
      { lat: 25.033, lon: 121.5654 }, // Taipei
      { lat: 21.0278, lon: 105.8342 }, // Hanoi
      { lat: 47.8864, lon: 106.9057 }, // Ulaanbaatar
      { lat: 1.3521, lon: 103.8198 }, // Singapore
      { lat: -33.8688, lon: 151.2093 }, // Sydney
    ]
    for (const p of outside) {
      expect(inMainlandChina(p.lat, p.lon)).toBe(false)
      expect(wgs84ToGcj02(p)).toEqual(p)
      expect(gcj02ToWgs84(p)).toEqual(p)
    }
    for (const [lat, lon] of [
      [39.9, 116.4],
      [31.2, 121.5],
      [43.8, 87.6],
      [45.75, 126.65],
      [18.25, 109.5],
    ])
      expect(inMainlandChina(lat, lon)).toBe(true)
  })

  it('SLW-MON-3: converting to the same datum is the identity', () => {
    const p = { lat: 22.5, lon: 114 }
    expect(convertDatum(p, 'GCJ-02', 'GCJ-02')).toEqual(p)
    expect(convertDatum(p, 'WGS-84', 'WGS-84')).toEqual(p)
    expect(convertDatum(p, 'WGS-84', 'GCJ-02')).toEqual(wgs84ToGcj02(p))
  })
})

describe('toMapDatum: positions are drawn in the base map datum', () => {
  const shenzhenWgs = { latitude_deg: 22.5431, longitude_deg: 114.0579, coordinate_system: 'WGS-84' as const }

  it('SLW-MON-3: the configured base map decides (tiles when mapTiles is set, else the offline outlines)', () => {
    expect(basemapOf({ mapTiles: null })).toBe('offline')
    expect(basemapOf({ mapTiles: 'https://tiles.example/{z}/{x}/{y}.png' })).toBe('tiles')
    expect(basemapDatum('tiles')).toBe('GCJ-02')
    expect(basemapDatum('offline')).toBe(OFFLINE_OUTLINE_DATUM)
  })

  it('SLW-MON-3: WGS-84 fixes are shifted to GCJ-02 on tiles and on the (GCJ-02) offline outlines', () => {
    const g = wgs84ToGcj02({ lat: 22.5431, lon: 114.0579 })
    expect(toMapDatum(shenzhenWgs, 'tiles')).toEqual([g.lon, g.lat])
    expect(OFFLINE_OUTLINE_DATUM).toBe('GCJ-02')
    expect(toMapDatum(shenzhenWgs, 'offline')).toEqual([g.lon, g.lat])
  })

  it('SLW-MON-3: GCJ-02 fixes are drawn as reported; fixes abroad are never shifted', () => {
    const gcj = { latitude_deg: 22.54, longitude_deg: 114.06, coordinate_system: 'GCJ-02' as const }
    expect(toMapDatum(gcj, 'tiles')).toEqual([114.06, 22.54])
    expect(toMapDatum(gcj, 'offline')).toEqual([114.06, 22.54])
    const london = { latitude_deg: 51.5, longitude_deg: -0.12, coordinate_system: 'WGS-84' as const }
    expect(toMapDatum(london, 'tiles')).toEqual([-0.12, 51.5])
  })
})

describe('projection and framing', () => {
  it('LCM-UI-2: Web Mercator round-trips and grows southwards', () => {
    for (const p of [
      [114.06, 22.54],
      [87.6, 43.8],
      [0, 0],
      [-70, -50],
    ]) {
      const back = mercator.unproject(mercator.project(p))
      expect(back[0]).toBeCloseTo(p[0], 9)
      expect(back[1]).toBeCloseTo(p[1], 9)
    }
    expect(mercator.project([0, 40])[1]).toBeLessThan(mercator.project([0, 20])[1])
  })

  it('SLW-MON-3: a cluster of devices is framed with a zoom far above the whole map; an empty set is not framed', () => {
    const guangdong: [number, number, number, number] = [109.6, 20.2, 117.4, 25.6]
    const v = frameView(guangdong, [
      [114.03, 22.52],
      [114.09, 22.57],
    ])
    expect(v).not.toBeNull()
    expect(v!.zoom).toBeGreaterThan(30)
    const [cx, cy] = mercator.unproject(v!.center)
    expect(cx).toBeCloseTo(114.06, 3)
    expect(cy).toBeCloseTo(22.545, 2)
    expect(frameView(guangdong, [])).toBeNull()
    // One device: a minimum span, so the zoom stays finite.
    expect(frameView(guangdong, [[114, 22.5]])!.zoom).toBeLessThanOrEqual(400)
    expect(wholeView(guangdong).zoom).toBe(1)
  })
})

describe('offline base map (public/geo)', () => {
  const china = readGeo('china.json')

  it('LCM-PF-3: the country outlines stay small (< 400 KB) and every province has its city file', () => {
    expect(statSync(join(GEO, 'china.json')).size).toBeLessThan(400 * 1024)
    expect(china.features).toHaveLength(34)
    expect(china.datum).toBe('GCJ-02')
    expect(china.source).toMatch(/echarts@4\.9\.0/)
    const files = new Set(readdirSync(join(GEO, 'province')))
    let total = 0
    for (const f of china.features) {
      expect(f.properties.name).toBeTruthy()
      expect(f.properties.name_en).toMatch(/^[A-Z]/)
      expect(f.properties.bbox).toHaveLength(4)
      expect(files.has(`${f.properties.adcode}.json`)).toBe(true)
      const size = statSync(join(GEO, 'province', `${f.properties.adcode}.json`)).size
      expect(size).toBeLessThan(300 * 1024)
      total += size
    }
    expect(total).toBeLessThan(5 * 1024 * 1024)
  })

  it('EVC-MON-1: the simulated fleet (Shenzhen) lies in Guangdong and in Shenzhen city; Tiananmen in Beijing; open sea in none', () => {
    const sz = toMapDatum({ latitude_deg: 22.5431, longitude_deg: 114.0579, coordinate_system: 'WGS-84' }, 'offline')
    expect(regionAt(china, ...sz)).toBe('440000')
    const guangdong = readGeo('province/440000.json')
    const city = guangdong.features.find((f) => f.properties.adcode === regionAt(guangdong, ...sz))
    expect(city?.properties.name).toBe('深圳市')
    expect(city?.properties.name_en).toBe('Shenzhen')
    const tam = toMapDatum({ latitude_deg: 39.9087, longitude_deg: 116.3975, coordinate_system: 'WGS-84' }, 'offline')
    expect(regionAt(china, ...tam)).toBe('110000')
    expect(regionAt(china, 125, 30)).toBeNull() // East China Sea
    expect(majorityRegion(china, [sz, sz, tam])).toBe('440000')
    expect(majorityRegion(china, [[125, 30]])).toBeNull()
    // The map opens on the one province holding the fleet; a fix at sea does not count against it.
    expect(enclosingRegion(china, [sz, sz, [125, 30]])).toBe('440000')
    expect(enclosingRegion(china, [sz, tam])).toBeNull()
    expect(enclosingRegion(china, [])).toBeNull()
  })

  it('EVC-MON-1: every province file is GeoJSON with names in both languages and rounded coordinates', () => {
    const problems: string[] = []
    for (const file of readdirSync(join(GEO, 'province'))) {
      const c = readGeo(`province/${file}`)
      if (c.type !== 'FeatureCollection' || c.features.length === 0) problems.push(`${file}: not a feature collection`)
      for (const f of c.features) {
        const where = `${file} ${f.properties.name}`
        if (!f.properties.name_en || /[\u4e00-\u9fff]/.test(f.properties.name_en)) problems.push(`${where}: English name`)
        const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0]
        if (ring.length < 4) problems.push(`${where}: ring of ${ring.length}`)
        if (ring[0][0] !== ring[ring.length - 1][0] || ring[0][1] !== ring[ring.length - 1][1]) problems.push(`${where}: open ring`)
        if (ring.some(([x, y]) => Math.round(x * 1000) / 1000 !== x || Math.round(y * 1000) / 1000 !== y))
          problems.push(`${where}: unrounded`)
      }
    }
    expect(problems).toEqual([])
  })

  it('LCM-UI-1: region names are English in English and the source names in Chinese', () => {
    expect(regionNameMap(china, 'zh-CN')).toEqual({})
    const en = regionNameMap(china, 'en')
    expect(en['广东']).toBe('Guangdong')
    expect(en['南海诸岛']).toBe('South China Sea Islands')
    const bbox = collectionBbox(china)
    expect(bbox[0]).toBeLessThan(75)
    expect(bbox[2]).toBeGreaterThan(134)
  })
})

describe('loading outlines', () => {
  it('LCM-PF-3: outlines are fetched at run time once per region, registered under their map name; failures are retried', async () => {
    clearOutlineCache()
    const body = { type: 'FeatureCollection', features: [] }
    const fetchImpl = vi
      .fn()
      .mockResolvedValueOnce(new Response('nope', { status: 503 }))
      .mockResolvedValue(new Response(JSON.stringify(body), { status: 200 }))
    const register = vi.fn()
    await expect(loadOutlines('440000', register, fetchImpl as unknown as typeof fetch, '/console/')).rejects.toThrow(/503/)
    await expect(loadOutlines('440000', register, fetchImpl as unknown as typeof fetch, '/console/')).resolves.toEqual(body)
    await loadOutlines('440000', register, fetchImpl as unknown as typeof fetch, '/console/')
    expect(fetchImpl).toHaveBeenCalledTimes(2)
    expect(fetchImpl).toHaveBeenLastCalledWith('/console/geo/province/440000.json')
    expect(register).toHaveBeenCalledTimes(1)
    expect(register).toHaveBeenCalledWith('cn-440000', body)
    expect(mapName('china')).toBe('china')
    expect(outlineUrl('china')).toBe('/geo/china.json')
    clearOutlineCache()
  })
})
