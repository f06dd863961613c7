/**
 * Datums of positions and maps (SLW-MON-3).
 *
 * Devices report WGS-84 (what a GNSS receiver gives) or GCJ-02 (the obfuscated datum that maps
 * published in mainland China must use; every Chinese tile provider draws in it). A position is
 * drawn in the datum of the base map under it, otherwise a marker sits 300–700 m off the street
 * it is on. The offset is the public "eviltransform" algorithm (WGS-84 → GCJ-02) and its
 * iterative inverse; no offset is applied outside the mainland-China approximation below.
 */

export type Datum = 'WGS-84' | 'GCJ-02'

export interface LatLon {
  lat: number
  lon: number
}

/** Krasovsky 1940 semi-major axis and eccentricity², as in the original algorithm. */
const A = 6378245.0
const EE = 0.00669342162296594323

/**
 * The standard rectangle of the algorithm, minus the places inside it that are not mainland
 * China and do not publish in GCJ-02 (Taiwan, the Korean peninsula, Japan, northern Vietnam,
 * Mongolia's centre and the Russian Far East). A bounding approximation, not a border: points
 * within a few tens of kilometres of a land border may be classified either way.
 */
const RECTANGLE = { latMin: 0.8293, latMax: 55.8271, lonMin: 72.004, lonMax: 137.8347 }
/** [latMin, latMax, lonMin, lonMax] */
const NOT_MAINLAND: ReadonlyArray<readonly [number, number, number, number]> = [
  [21.7, 25.5, 119.9, 122.6], // Taiwan, Penghu
  [33.0, 39.4, 124.2, 131.0], // Korean peninsula south of the Yalu estuary
  [39.4, 43.0, 127.5, 131.0], // north-east Korea (Chongjin, Rason)
  [24.0, 35.0, 127.5, 137.9], // Japan west of 137.8° E (Kyushu, Okinawa)
  [20.0, 22.4, 102.0, 106.7], // northern Vietnam (Hanoi, Haiphong)
  [45.0, 50.5, 100.0, 111.5], // central Mongolia (Ulaanbaatar)
  [42.5, 55.9, 131.3, 137.9], // Russian Far East (Vladivostok, Khabarovsk)
  [50.3, 55.9, 109.0, 119.1], // Transbaikalia (Chita)
  [0.8, 18.0, 72.0, 108.0], // South-East Asia mainland south of Hainan's latitude
  [0.8, 17.0, 112.5, 137.9], // Philippines and seas to the east
]

/** True when the point is inside the mainland-China approximation (where GCJ-02 applies). */
export function inMainlandChina(lat: number, lon: number): boolean {
  if (lat < RECTANGLE.latMin || lat > RECTANGLE.latMax || lon < RECTANGLE.lonMin || lon > RECTANGLE.lonMax) return false
  return !NOT_MAINLAND.some(([la0, la1, lo0, lo1]) => lat >= la0 && lat <= la1 && lon >= lo0 && lon <= lo1)
}

function transform(x: number, y: number): { lat: number; lon: number } {
  const xy = x * y
  const absX = Math.sqrt(Math.abs(x))
  const xPi = x * Math.PI
  const yPi = y * Math.PI
  const d = 20.0 * Math.sin(6.0 * xPi) + 20.0 * Math.sin(2.0 * xPi)
  let lat = d
  let lon = d
  lat += 20.0 * Math.sin(yPi) + 40.0 * Math.sin(yPi / 3.0)
  lon += 20.0 * Math.sin(xPi) + 40.0 * Math.sin(xPi / 3.0)
  lat += 160.0 * Math.sin(yPi / 12.0) + 320 * Math.sin(yPi / 30.0)
  lon += 150.0 * Math.sin(xPi / 12.0) + 300.0 * Math.sin(xPi / 30.0)
  lat *= 2.0 / 3.0
  lon *= 2.0 / 3.0
  lat += -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * xy + 0.2 * absX
  lon += 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * xy + 0.1 * absX
  return { lat, lon }
}

/** The GCJ-02 offset (degrees) at a WGS-84 point. */
function offset(lat: number, lon: number): { lat: number; lon: number } {
  const d = transform(lon - 105.0, lat - 35.0)
  const radLat = (lat / 180.0) * Math.PI
  let magic = Math.sin(radLat)
  magic = 1 - EE * magic * magic
  const sqrtMagic = Math.sqrt(magic)
  return {
    lat: (d.lat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI),
    lon: (d.lon * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI),
  }
}

/** WGS-84 → GCJ-02 (unchanged outside mainland China). */
export function wgs84ToGcj02(p: LatLon): LatLon {
  if (!inMainlandChina(p.lat, p.lon)) return { lat: p.lat, lon: p.lon }
  const d = offset(p.lat, p.lon)
  return { lat: p.lat + d.lat, lon: p.lon + d.lon }
}

/**
 * GCJ-02 → WGS-84 by fixed-point iteration (the forward offset varies slowly, so a few rounds
 * reach millimetres); unchanged outside mainland China.
 */
export function gcj02ToWgs84(p: LatLon): LatLon {
  if (!inMainlandChina(p.lat, p.lon)) return { lat: p.lat, lon: p.lon }
  let lat = p.lat
  let lon = p.lon
  for (let i = 0; i < 20; i++) {
    const g = wgs84ToGcj02({ lat, lon })
    const dLat = g.lat - p.lat
    const dLon = g.lon - p.lon
    lat -= dLat
    lon -= dLon
    if (Math.abs(dLat) < 1e-9 && Math.abs(dLon) < 1e-9) break
  }
  return { lat, lon }
}

/** Convert a point between datums (identity when they are the same). */
export function convertDatum(p: LatLon, from: Datum, to: Datum): LatLon {
  if (from === to) return { lat: p.lat, lon: p.lon }
  return from === 'WGS-84' ? wgs84ToGcj02(p) : gcj02ToWgs84(p)
}

/** Great-circle distance in metres (haversine; tests and the track length). */
export function distanceM(a: LatLon, b: LatLon): number {
  const R = 6371008.8
  const rad = Math.PI / 180
  const dLat = (b.lat - a.lat) * rad
  const dLon = (b.lon - a.lon) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)))
}
