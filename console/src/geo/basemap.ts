/**
 * The base map (SLW-MON-3, EVC-MON-1): which one is in use, its datum, its projection, and the
 * offline outlines shipped in `public/geo/` (fetched at run time, never bundled; see
 * docs/map-data.md for their source, licence and datum).
 */
import { convertDatum, type Datum } from './coords'

export type Basemap = 'offline' | 'tiles'

/**
 * Datum of the offline outlines: GCJ-02, a best estimate — ECharts 4.9's map data is traced to
 * AutoNavi (Gaode) district data, and fitted against a WGS-84 coastline the outlines sit near the
 * GCJ-02 offset rather than at zero in five of six coastal windows (docs/map-data.md).
 */
export const OFFLINE_OUTLINE_DATUM: Datum = 'GCJ-02'
/** Licensed Chinese tile providers (AutoNavi, Tencent, Tianditu's commercial resellers) draw in GCJ-02. */
export const TILE_DATUM: Datum = 'GCJ-02'

export function basemapOf(cfg: { mapTiles: string | null }): Basemap {
  return cfg.mapTiles ? 'tiles' : 'offline'
}

export function basemapDatum(basemap: Basemap): Datum {
  return basemap === 'tiles' ? TILE_DATUM : OFFLINE_OUTLINE_DATUM
}

export interface PositionLike {
  latitude_deg: number
  longitude_deg: number
  coordinate_system: Datum
}

/**
 * Where a reported position is drawn on the given base map: `[longitude, latitude]` in the base
 * map's datum (the one decision on datums; every marker and track point goes through it).
 */
export function toMapDatum(p: PositionLike, basemap: Basemap): [number, number] {
  const q = convertDatum({ lat: p.latitude_deg, lon: p.longitude_deg }, p.coordinate_system, basemapDatum(basemap))
  return [q.lon, q.lat]
}

// ---- projection -------------------------------------------------------------------------------

const RAD = Math.PI / 180
const MAX_LAT = 85.05112878

/**
 * Web Mercator in degrees-like units (x = longitude, y grows southwards), so shapes are true at
 * every zoom — ECharts' default equirectangular view squashes south China by a quarter.
 */
export const mercator = {
  project([lon, lat]: number[]): number[] {
    const φ = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * RAD
    return [lon, -Math.log(Math.tan(Math.PI / 4 + φ / 2)) / RAD]
  },
  unproject([x, y]: number[]): number[] {
    return [x, (2 * Math.atan(Math.exp(-y * RAD)) - Math.PI / 2) / RAD]
  },
}

// ---- GeoJSON ------------------------------------------------------------------------------------

export type Ring = [number, number][]
export interface RegionFeature {
  type: 'Feature'
  id: string
  properties: {
    adcode: string
    name: string
    name_en: string
    cp?: [number, number]
    /** [minLon, minLat, maxLon, maxLat] of the outer rings. */
    bbox: [number, number, number, number]
  }
  geometry: { type: 'Polygon'; coordinates: Ring[] } | { type: 'MultiPolygon'; coordinates: Ring[][] }
}
export interface RegionCollection {
  type: 'FeatureCollection'
  source?: string
  datum?: Datum
  features: RegionFeature[]
}

/** Even-odd point-in-polygon over a polygon's rings (holes subtract). */
function inRings(rings: Ring[], lon: number, lat: number): boolean {
  let inside = false
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i]
      const [xj, yj] = ring[j]
      if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside
    }
  }
  return inside
}

export function featureContains(f: RegionFeature, lon: number, lat: number): boolean {
  const [x0, y0, x1, y1] = f.properties.bbox
  if (lon < x0 || lon > x1 || lat < y0 || lat > y1) return false
  const polys = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates
  return polys.some((rings) => inRings(rings, lon, lat))
}

/** The region (by adcode) containing a point in the outlines' datum, or null. */
export function regionAt(c: RegionCollection, lon: number, lat: number): string | null {
  return c.features.find((f) => featureContains(f, lon, lat))?.properties.adcode ?? null
}

/** The region holding most of the points (ties: the first reached), or null when none is in any. */
export function majorityRegion(c: RegionCollection, points: [number, number][]): string | null {
  const counts = new Map<string, number>()
  let best: string | null = null
  for (const [lon, lat] of points) {
    const r = regionAt(c, lon, lat)
    if (!r) continue
    const n = (counts.get(r) ?? 0) + 1
    counts.set(r, n)
    if (!best || n > (counts.get(best) ?? 0)) best = r
  }
  return best
}

/**
 * The one region holding every point that is in some region (points in none — offshore, or just
 * outside a simplified coastline — do not count), or null when they spread over several or none.
 */
export function enclosingRegion(c: RegionCollection, points: [number, number][]): string | null {
  let found: string | null = null
  for (const [lon, lat] of points) {
    const r = regionAt(c, lon, lat)
    if (r === null) continue
    if (found !== null && r !== found) return null
    found = r
  }
  return found
}

/** Bounding box [minLon, minLat, maxLon, maxLat] of a collection. */
export function collectionBbox(c: RegionCollection): [number, number, number, number] {
  let b: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity]
  for (const f of c.features) {
    const [x0, y0, x1, y1] = f.properties.bbox
    b = [Math.min(b[0], x0), Math.min(b[1], y0), Math.max(b[2], x1), Math.max(b[3], y1)]
  }
  return b
}

/** Region names in the reader's language for ECharts' `nameMap` (zh-CN: the source names). */
export function regionNameMap(c: RegionCollection, locale: string): Record<string, string> {
  if (locale.startsWith('zh')) return {}
  const m: Record<string, string> = { 南海诸岛: 'South China Sea Islands' }
  for (const f of c.features) m[f.properties.name] = f.properties.name_en
  return m
}

/**
 * Centre and zoom for ECharts' geo view that frame a box of points (in the map's datum) on a
 * registered map whose own box is `mapBbox`: the centre is in projected space (ECharts ≥ 6
 * takes `center` in the projection's linear space), the zoom is relative to the whole map.
 */
export function frameView(
  mapBbox: [number, number, number, number],
  points: [number, number][],
  opts: { minSpanDeg?: number; fill?: number; maxZoom?: number } = {},
): { center: number[]; zoom: number } | null {
  if (points.length === 0) return null
  const minSpan = opts.minSpanDeg ?? 0.05
  const fill = opts.fill ?? 0.7
  const proj = points.map((p) => mercator.project(p))
  const xs = proj.map((p) => p[0])
  const ys = proj.map((p) => p[1])
  const [mx0, my0] = mercator.project([mapBbox[0], mapBbox[3]])
  const [mx1, my1] = mercator.project([mapBbox[2], mapBbox[1]])
  const cx = (Math.min(...xs) + Math.max(...xs)) / 2
  const cy = (Math.min(...ys) + Math.max(...ys)) / 2
  const w = Math.max(Math.max(...xs) - Math.min(...xs), minSpan)
  const h = Math.max(Math.max(...ys) - Math.min(...ys), minSpan)
  const zoom = Math.min((mx1 - mx0) / w, (my1 - my0) / h) * fill
  return { center: [cx, cy], zoom: Math.max(1, Math.min(opts.maxZoom ?? 400, zoom)) }
}

/** The view of a whole registered map (its centre, zoom 1). */
export function wholeView(mapBbox: [number, number, number, number]): { center: number[]; zoom: number } {
  const [x0, y0] = mercator.project([mapBbox[0], mapBbox[3]])
  const [x1, y1] = mercator.project([mapBbox[2], mapBbox[1]])
  return { center: [(x0 + x1) / 2, (y0 + y1) / 2], zoom: 1 }
}

// ---- loading ------------------------------------------------------------------------------------

/** 'china' or a province adcode ('440000'). */
export type RegionKey = string

/** The ECharts map name of a region: 'china' (so ECharts adds the South China Sea inset) or 'cn-<adcode>'. */
export function mapName(region: RegionKey): string {
  return region === 'china' ? 'china' : `cn-${region}`
}

export function outlineUrl(region: RegionKey, base = '/'): string {
  const root = base.endsWith('/') ? base : `${base}/`
  return region === 'china' ? `${root}geo/china.json` : `${root}geo/province/${region}.json`
}

export type Register = (name: string, geoJson: RegionCollection) => void

const cache = new Map<RegionKey, Promise<RegionCollection>>()

/**
 * Fetch a region's outlines once and register them with ECharts (lazily: a province's cities are
 * fetched only when it is shown). A failed fetch is not cached, so a retry can succeed.
 */
export function loadOutlines(
  region: RegionKey,
  register: Register,
  fetchImpl: typeof fetch = fetch,
  base = '/',
): Promise<RegionCollection> {
  let p = cache.get(region)
  if (!p) {
    p = fetchImpl(outlineUrl(region, base))
      .then(async (res) => {
        if (!res.ok) throw new Error(`${outlineUrl(region, base)}: HTTP ${res.status}`)
        const c = (await res.json()) as RegionCollection
        register(mapName(region), c)
        return c
      })
      .catch((e: unknown) => {
        cache.delete(region)
        throw e
      })
    cache.set(region, p)
  }
  return p
}

/** Tests only. */
export function clearOutlineCache(): void {
  cache.clear()
}
