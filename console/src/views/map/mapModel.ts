/**
 * The device map's logic (SLW-MON-3, EVC-MON-1), kept out of the page so it is testable:
 * filters, live position updates, the chart option, and track playback.
 */
import type { Schemas } from '@/api/client'
import type { EChartsOption } from '@/charts/echarts'
import { LEVEL_COLOURS, STATUS_COLOURS } from '@/format'
import { mercator, toMapDatum, type Basemap } from '@/geo/basemap'
import type { Datum } from '@/geo/coords'

export type FleetPosition = Schemas['PositionItem']
export type DeviceKind = Schemas['DeviceKind']
export type FleetStatus = Schemas['FleetStatus']

export const KINDS: DeviceKind[] = ['battery_pack', 'storage_cabinet']
export const STATUSES: FleetStatus[] = ['charging', 'discharging', 'idle', 'fault', 'offline', 'inactive']
const DATUMS: Datum[] = ['WGS-84', 'GCJ-02']

// ---- filters ------------------------------------------------------------------------------------

export interface MapFilter {
  kind: DeviceKind | ''
  statuses: FleetStatus[]
}

export function filterPositions(items: FleetPosition[], f: MapFilter): FleetPosition[] {
  return items.filter((i) => (!f.kind || i.kind === f.kind) && (f.statuses.length === 0 || f.statuses.includes(i.status)))
}

export function statusCounts(items: FleetPosition[]): Record<FleetStatus, number> {
  const out = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<FleetStatus, number>
  for (const i of items) out[i.status] = (out[i.status] ?? 0) + 1
  return out
}

// ---- live positions -----------------------------------------------------------------------------

export interface LivePosition {
  thing: string
  latitude_deg: number
  longitude_deg: number
  coordinate_system: Datum
  speed_kmh: number | null
  heading_deg: number | null
  device_ts_ms: number
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/**
 * A `voltops/v1/{tenant}/{thing}/up/position` message as a position update, or null when it is
 * not one, has no valid fix (`fix_valid: false`) or is malformed.
 */
export function parsePositionMessage(topic: string, payload: unknown): LivePosition | null {
  const levels = topic.split('/')
  if (levels.length !== 6 || levels[4] !== 'up' || levels[5] !== 'position') return null
  if (typeof payload !== 'object' || payload === null) return null
  const p = payload as Record<string, unknown>
  if (p.fix_valid === false) return null
  const lat = num(p.latitude_deg)
  const lon = num(p.longitude_deg)
  const ts = num(p.device_ts_ms)
  if (lat === null || lon === null || ts === null || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null
  if (!DATUMS.includes(p.coordinate_system as Datum)) return null
  return {
    thing: levels[3],
    latitude_deg: lat,
    longitude_deg: lon,
    coordinate_system: p.coordinate_system as Datum,
    speed_kmh: num(p.speed_kmh),
    heading_deg: num(p.heading_deg),
    device_ts_ms: ts,
  }
}

/**
 * Move a device's marker to a live fix. `unknown` = a device the list does not have yet (the
 * caller reloads); older fixes than the one shown are ignored (messages may arrive out of order).
 */
export function applyLivePosition(
  items: FleetPosition[],
  live: LivePosition,
): { items: FleetPosition[]; changed: boolean; unknown: boolean } {
  const idx = items.findIndex((i) => i.thing_name === live.thing)
  if (idx < 0) return { items, changed: false, unknown: true }
  const cur = items[idx]
  if (live.device_ts_ms <= cur.ts_ms) return { items, changed: false, unknown: false }
  const next = items.slice()
  next[idx] = {
    ...cur,
    latitude_deg: live.latitude_deg,
    longitude_deg: live.longitude_deg,
    coordinate_system: live.coordinate_system,
    speed_kmh: live.speed_kmh,
    heading_deg: live.heading_deg,
    ts_ms: live.device_ts_ms,
  }
  return { items: next, changed: true, unknown: false }
}

// ---- track --------------------------------------------------------------------------------------

export const HOUR_MS = 3_600_000
export const DAY_MS = 24 * HOUR_MS
export const MAX_RANGE_MS = 31 * DAY_MS
export const DEFAULT_RANGE_MS = 6 * HOUR_MS
export const TRACK_MAX_POINTS = 2000
export const SPEEDS = [1, 4, 16, 64] as const
export type Speed = (typeof SPEEDS)[number]

export function defaultRange(nowMs: number): [number, number] {
  return [nowMs - DEFAULT_RANGE_MS, nowMs]
}

/** Why a chosen range cannot be queried (a message key under map.track), or null when it can. */
export function rangeProblem(range: [number, number] | null | undefined): 'rangeMissing' | 'rangeOrder' | 'rangeTooLong' | null {
  if (!range || !Number.isFinite(range[0]) || !Number.isFinite(range[1])) return 'rangeMissing'
  if (range[0] >= range[1]) return 'rangeOrder'
  if (range[1] - range[0] > MAX_RANGE_MS) return 'rangeTooLong'
  return null
}

export interface TrackPoint {
  ts: number
  latitude_deg: number
  longitude_deg: number
  coordinate_system: Datum
  speed_kmh: number | null
  heading_deg: number | null
}

/**
 * Track points from a position history (`GET /v1/devices/{thing}/history?type=position`): each
 * bucket's `fix` (its last valid fix; null when the bucket had none). Buckets without a fix are
 * skipped; ascending by device time, duplicates dropped.
 */
export function trackFromHistory(points: ReadonlyArray<Record<string, unknown>>): TrackPoint[] {
  const out: TrackPoint[] = []
  for (const b of points) {
    const fix = b.fix as Record<string, unknown> | null | undefined
    if (!fix || typeof fix !== 'object') continue
    const lat = num(fix.latitude_deg)
    const lon = num(fix.longitude_deg)
    const ts = num(fix.ts_ms)
    if (lat === null || lon === null || ts === null) continue
    const cs = DATUMS.includes(fix.coordinate_system as Datum) ? (fix.coordinate_system as Datum) : 'WGS-84'
    out.push({
      ts,
      latitude_deg: lat,
      longitude_deg: lon,
      coordinate_system: cs,
      speed_kmh: num(fix.speed_kmh),
      heading_deg: num(fix.heading_deg),
    })
  }
  out.sort((a, b) => a.ts - b.ts)
  return out.filter((p, i) => i === 0 || p.ts !== out[i - 1].ts)
}

/** A track in the base map's datum, ready to draw. */
export interface MapTrack {
  ts: number[]
  coords: [number, number][]
  speed: (number | null)[]
  heading: (number | null)[]
}

export function mapTrack(track: TrackPoint[], basemap: Basemap): MapTrack {
  return {
    ts: track.map((p) => p.ts),
    coords: track.map((p) => toMapDatum(p, basemap)),
    speed: track.map((p) => p.speed_kmh),
    heading: track.map((p) => p.heading_deg),
  }
}

/** Index of the last point at or before `t` (−1 before the first). */
export function indexAt(ts: number[], t: number): number {
  let lo = 0
  let hi = ts.length - 1
  let ans = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (ts[mid] <= t) {
      ans = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return ans
}

/** Bearing from a to b, degrees clockwise from north (for a marker when the fix has no heading). */
function bearing(a: [number, number], b: [number, number]): number {
  const [lon1, lat1] = a.map((v) => (v * Math.PI) / 180)
  const [lon2, lat2] = b.map((v) => (v * Math.PI) / 180)
  const y = Math.sin(lon2 - lon1) * Math.cos(lat2)
  const x = Math.cos(lat1) * Math.sin(lat2) - Math.sin(lat1) * Math.cos(lat2) * Math.cos(lon2 - lon1)
  return ((Math.atan2(y, x) * 180) / Math.PI + 360) % 360
}

export interface TrackCursor {
  coord: [number, number]
  heading: number | null
  speed: number | null
  /** Index of the last real point passed. */
  index: number
}

/** The position at time `t`, interpolated linearly between the surrounding fixes. */
export function cursorAt(track: MapTrack, t: number): TrackCursor | null {
  const n = track.ts.length
  if (n === 0) return null
  const i = indexAt(track.ts, t)
  if (i < 0) return { coord: track.coords[0], heading: track.heading[0], speed: track.speed[0], index: 0 }
  if (i >= n - 1) return { coord: track.coords[n - 1], heading: track.heading[n - 1], speed: track.speed[n - 1], index: n - 1 }
  const f = (t - track.ts[i]) / (track.ts[i + 1] - track.ts[i])
  const [x0, y0] = track.coords[i]
  const [x1, y1] = track.coords[i + 1]
  const moved = x0 !== x1 || y0 !== y1
  return {
    coord: [x0 + (x1 - x0) * f, y0 + (y1 - y0) * f],
    heading: track.heading[i] ?? (moved ? bearing(track.coords[i], track.coords[i + 1]) : null),
    speed: track.speed[i],
    index: i,
  }
}

/** The part of the track already travelled at `t` (ends at the interpolated position). */
export function playedCoords(track: MapTrack, t: number): [number, number][] {
  const c = cursorAt(track, t)
  if (!c) return []
  const head = track.coords.slice(0, c.index + 1)
  const last = head[head.length - 1]
  if (last && (last[0] !== c.coord[0] || last[1] !== c.coord[1])) head.push(c.coord)
  return head
}

/** One playback step: `dtMs` of wall time at `speed`×; stops at the end. */
export function advance(t: number, dtMs: number, speed: number, endMs: number): { t: number; ended: boolean } {
  const next = t + dtMs * speed
  return next >= endMs ? { t: endMs, ended: true } : { t: next, ended: false }
}

/** Total length of a track in metres (haversine over its fixes). */
export function trackLengthM(track: MapTrack): number {
  let m = 0
  for (let i = 1; i < track.coords.length; i++) {
    const [lon1, lat1] = track.coords[i - 1]
    const [lon2, lat2] = track.coords[i]
    const rad = Math.PI / 180
    const h =
      Math.sin(((lat2 - lat1) * rad) / 2) ** 2 +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2
    m += 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)))
  }
  return m
}

// ---- chart option ---------------------------------------------------------------------------------

export interface MapOptionInput {
  /** Registered ECharts map name ('china' or 'cn-<adcode>'); null while outlines load. */
  mapName: string | null
  nameMap: Record<string, string>
  basemap: Basemap
  /** Devices to draw (already filtered). */
  items: FleetPosition[]
  selected: string | null
  /** Set to move the view (region change, "fit"); omitted otherwise so the user's pan/zoom stays. */
  view?: { center: number[]; zoom: number } | null
  regionLabels: boolean
  /** Full track (faded) and its start/end; null when no track is shown. */
  track: MapTrack | null
  /** Tooltip text of a device (HTML-escaped by the caller). */
  describe: (item: FleetPosition) => string
  /** Accessible names of the track's start and end markers. */
  trackLabels?: { start: string; end: string }
}

export const SERIES = {
  devices: 'devices',
  critical: 'critical',
  trackPath: 'track-path',
  trackPlayed: 'track-played',
  trackEnds: 'track-ends',
  trackMarker: 'track-marker',
} as const

export interface DeviceDatum {
  name: string
  value: [number, number, number]
  itemStyle: { color: string; borderColor: string; borderWidth: number }
  symbolSize: number
}

function deviceDatum(i: FleetPosition, basemap: Basemap, selected: string | null): DeviceDatum {
  const [lon, lat] = toMapDatum(i, basemap)
  const isSel = i.thing_name === selected
  const critical = i.worst_level === 3
  return {
    name: i.thing_name,
    value: [lon, lat, i.worst_level ?? -1],
    itemStyle: {
      color: STATUS_COLOURS[i.status] ?? '#c0c4cc',
      borderColor: isSel ? '#1f6feb' : critical ? LEVEL_COLOURS[3] : '#ffffff',
      borderWidth: isSel ? 3 : critical ? 2 : 1,
    },
    symbolSize: isSel ? 18 : critical ? 14 : 11,
  }
}

/** Devices split into the ordinary layer and the pulsing level-3 layer. */
export function deviceLayers(
  items: FleetPosition[],
  basemap: Basemap,
  selected: string | null,
): { normal: DeviceDatum[]; critical: DeviceDatum[] } {
  const normal: DeviceDatum[] = []
  const critical: DeviceDatum[] = []
  for (const i of items) (i.worst_level === 3 ? critical : normal).push(deviceDatum(i, basemap, selected))
  return { normal, critical }
}

export function buildMapOption(input: MapOptionInput): EChartsOption {
  const { normal, critical } = deviceLayers(input.items, input.basemap, input.selected)
  const byName = new Map(input.items.map((i) => [i.thing_name, i]))
  const tooltipFor = (p: { seriesId?: string; name?: string; componentType?: string }): string => {
    if (p.componentType === 'geo') return p.name ?? ''
    const item = p.name ? byName.get(p.name) : undefined
    return item ? input.describe(item) : ''
  }
  const geo = input.mapName
    ? {
        map: input.mapName,
        projection: mercator,
        roam: true,
        scaleLimit: { min: 0.8, max: 4000 },
        nameMap: input.nameMap,
        selectedMode: false,
        label: { show: input.regionLabels, fontSize: 10, color: '#606266' },
        itemStyle: { areaColor: '#eef2f7', borderColor: '#a8b3c4', borderWidth: 0.6 },
        emphasis: { label: { show: true }, itemStyle: { areaColor: '#dbe6f5' } },
        tooltip: { show: true },
        ...(input.view ? { center: input.view.center, zoom: input.view.zoom } : {}),
      }
    : undefined
  const t = input.track
  const ends = t && t.coords.length ? [t.coords[0], t.coords[t.coords.length - 1]] : []
  return {
    animation: false,
    tooltip: { trigger: 'item', confine: true, formatter: tooltipFor },
    ...(geo ? { geo } : {}),
    series: [
      {
        id: SERIES.trackPath,
        type: 'lines',
        coordinateSystem: 'geo',
        polyline: true,
        silent: true,
        z: 2,
        lineStyle: { color: '#1f6feb', opacity: 0.35, width: 3 },
        data: t && t.coords.length > 1 ? [{ coords: t.coords }] : [],
      },
      {
        id: SERIES.trackPlayed,
        type: 'lines',
        coordinateSystem: 'geo',
        polyline: true,
        silent: true,
        z: 3,
        lineStyle: { color: '#1f6feb', opacity: 0.95, width: 4 },
        // no `data`: playback frames own it (a merge without data keeps what is drawn)
      },
      {
        id: SERIES.trackEnds,
        type: 'scatter',
        coordinateSystem: 'geo',
        silent: true,
        z: 4,
        symbol: 'pin',
        symbolSize: 22,
        label: { show: true, fontSize: 10, color: '#fff', formatter: (p: { dataIndex: number }) => (p.dataIndex === 0 ? 'S' : 'E') },
        data: ends.map((c, i) => ({
          name: i === 0 ? (input.trackLabels?.start ?? 'start') : (input.trackLabels?.end ?? 'end'),
          value: c,
          itemStyle: { color: i === 0 ? '#67c23a' : '#a8071a' },
        })),
      },
      {
        id: SERIES.devices,
        type: 'scatter',
        coordinateSystem: 'geo',
        z: 5,
        symbol: 'circle',
        cursor: 'pointer',
        emphasis: { scale: 1.4 },
        data: normal,
      },
      {
        id: SERIES.critical,
        type: 'effectScatter',
        coordinateSystem: 'geo',
        z: 6,
        cursor: 'pointer',
        rippleEffect: { brushType: 'stroke', scale: 3.5, period: 2.5, color: LEVEL_COLOURS[3] },
        showEffectOn: 'render',
        data: critical,
      },
      {
        id: SERIES.trackMarker,
        type: 'scatter',
        coordinateSystem: 'geo',
        silent: true,
        z: 7,
        symbol: 'arrow',
        symbolSize: 16,
        itemStyle: { color: '#1f6feb', borderColor: '#fff', borderWidth: 1.5 },
      },
    ],
  }
}

/** The two series that move during playback (set on every frame, nothing else). */
export function playbackSeries(track: MapTrack | null, t: number | null): EChartsOption {
  const c = track && t !== null ? cursorAt(track, t) : null
  const played = c && track ? playedCoords(track, t as number) : []
  return {
    series: [
      // A polyline needs two points (ECharts fails on one).
      { id: SERIES.trackPlayed, data: played.length > 1 ? [{ coords: played }] : [] },
      {
        id: SERIES.trackMarker,
        data: c
          ? [{ value: c.coord, symbolRotate: c.heading === null ? 0 : -c.heading, symbol: c.heading === null ? 'circle' : 'arrow' }]
          : [],
      },
    ],
  }
}

/** HTML-escape for tooltip text (thing names come from devices). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
}

// ---- device panel ---------------------------------------------------------------------------------

type AlarmLike = Pick<Schemas['Alarm'], 'level' | 'status' | 'raised_at_ms'>

/** The alarm to show as a device's worst: open (active or acknowledged), highest level, newest. */
export function worstOpenAlarm<A extends AlarmLike>(alarms: A[]): A | null {
  let best: A | null = null
  for (const a of alarms) {
    if (a.status === 'cleared') continue
    if (!best || a.level > best.level || (a.level === best.level && a.raised_at_ms > best.raised_at_ms)) best = a
  }
  return best
}
