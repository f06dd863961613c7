// SLW-MON-3, EVC-MON-1, LCM-UI-2: the device map's logic — filters, live position updates,
// the chart option (status colours, level-3 emphasis, datum), track extraction and playback.
import { describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createI18n } from 'vue-i18n'
import { LEVEL_COLOURS, STATUS_COLOURS } from '@/format'
import { wgs84ToGcj02 } from '@/geo/coords'
import { mergedMessages } from '@/i18n'
import TrackBar from '@/views/map/TrackBar.vue'
import {
  advance,
  applyLivePosition,
  buildMapOption,
  cursorAt,
  defaultRange,
  deviceLayers,
  filterPositions,
  HOUR_MS,
  indexAt,
  MAX_RANGE_MS,
  mapTrack,
  parsePositionMessage,
  playbackSeries,
  playedCoords,
  rangeProblem,
  SERIES,
  statusCounts,
  trackFromHistory,
  trackLengthM,
  worstOpenAlarm,
  type FleetPosition,
} from '@/views/map/mapModel'

// Element Plus styles are injected by the on-demand resolver; Node cannot load CSS.
vi.mock('element-plus/es/components/base/style/css', () => ({}))
vi.mock('element-plus/es/components/button/style/css', () => ({}))
vi.mock('element-plus/es/components/radio-group/style/css', () => ({}))
vi.mock('element-plus/es/components/radio-button/style/css', () => ({}))
vi.mock('element-plus/es/components/slider/style/css', () => ({}))
vi.mock('element-plus/es/components/alert/style/css', () => ({}))

function pos(over: Partial<FleetPosition> = {}): FleetPosition {
  return {
    thing_name: 'pack-001',
    kind: 'battery_pack',
    status: 'discharging',
    worst_level: null,
    latitude_deg: 22.5431,
    longitude_deg: 114.0579,
    coordinate_system: 'WGS-84',
    ts_ms: 1_000,
    speed_kmh: 18,
    heading_deg: 90,
    ...over,
  }
}

const fleet = [
  pos(),
  pos({ thing_name: 'pack-002', status: 'fault', worst_level: 3 }),
  pos({ thing_name: 'cab-001', kind: 'storage_cabinet', status: 'idle', worst_level: 1, coordinate_system: 'GCJ-02' }),
  pos({ thing_name: 'pack-003', status: 'offline' }),
]

describe('filters', () => {
  it('EVC-MON-1: by kind and by any of several statuses; no status chosen = all', () => {
    expect(filterPositions(fleet, { kind: '', statuses: [] })).toHaveLength(4)
    expect(filterPositions(fleet, { kind: 'storage_cabinet', statuses: [] }).map((i) => i.thing_name)).toEqual(['cab-001'])
    expect(filterPositions(fleet, { kind: 'battery_pack', statuses: ['fault', 'offline'] }).map((i) => i.thing_name)).toEqual([
      'pack-002',
      'pack-003',
    ])
    const c = statusCounts(fleet)
    expect(c).toMatchObject({ discharging: 1, fault: 1, idle: 1, offline: 1, charging: 0, inactive: 0 })
  })
})

describe('live positions', () => {
  const topic = 'voltops/v1/t1/pack-001/up/position'
  const body = {
    kind: 'position',
    latitude_deg: 22.55,
    longitude_deg: 114.06,
    coordinate_system: 'WGS-84',
    fix_valid: true,
    speed_kmh: 21.5,
    heading_deg: 45,
    device_ts_ms: 2_000,
  }

  it('SLW-MON-3: a position uplink names its device in the 4th topic level; invalid fixes are ignored', () => {
    expect(parsePositionMessage(topic, body)).toEqual({
      thing: 'pack-001',
      latitude_deg: 22.55,
      longitude_deg: 114.06,
      coordinate_system: 'WGS-84',
      speed_kmh: 21.5,
      heading_deg: 45,
      device_ts_ms: 2_000,
    })
    expect(parsePositionMessage(topic, { ...body, fix_valid: false })).toBeNull()
    expect(parsePositionMessage('voltops/v1/t1/pack-001/up/telemetry', body)).toBeNull()
    expect(parsePositionMessage(topic, { ...body, coordinate_system: 'BD-09' })).toBeNull()
    expect(parsePositionMessage(topic, { ...body, latitude_deg: 'x' })).toBeNull()
    expect(parsePositionMessage(topic, null)).toBeNull()
  })

  it('SLW-MON-3: a newer fix moves the marker without a reload; older fixes and unknown devices do not', () => {
    const live = parsePositionMessage(topic, body)!
    const r = applyLivePosition(fleet, live)
    expect(r.changed).toBe(true)
    expect(r.items[0]).toMatchObject({ latitude_deg: 22.55, longitude_deg: 114.06, ts_ms: 2_000, speed_kmh: 21.5, status: 'discharging' })
    expect(fleet[0].latitude_deg).toBe(22.5431) // not mutated
    expect(applyLivePosition(r.items, { ...live, device_ts_ms: 1_500 }).changed).toBe(false)
    expect(applyLivePosition(fleet, { ...live, thing: 'new-pack' })).toMatchObject({ changed: false, unknown: true })
  })
})

describe('chart option', () => {
  const option = buildMapOption({
    mapName: 'cn-440000',
    nameMap: {},
    basemap: 'offline',
    items: fleet,
    selected: 'cab-001',
    regionLabels: true,
    track: null,
    describe: (i) => i.thing_name,
  }) as { geo: Record<string, unknown>; series: { id: string; type: string; data?: unknown[] }[] }
  const series = (id: string) => option.series.find((s) => s.id === id)!

  it('SLW-MON-3: devices are coloured by status; level-3 alarms pulse in their own effectScatter layer', () => {
    const normal = series(SERIES.devices).data as { name: string; itemStyle: { color: string } }[]
    const critical = series(SERIES.critical)
    expect(series(SERIES.devices).type).toBe('scatter')
    expect(critical.type).toBe('effectScatter')
    expect((critical.data as { name: string }[]).map((d) => d.name)).toEqual(['pack-002'])
    expect(normal.map((d) => d.name)).toEqual(['pack-001', 'cab-001', 'pack-003'])
    expect(normal.find((d) => d.name === 'pack-003')!.itemStyle.color).toBe(STATUS_COLOURS.offline)
    const crit = (critical.data as { itemStyle: { color: string; borderColor: string } }[])[0]
    expect(crit.itemStyle.color).toBe(STATUS_COLOURS.fault)
    expect(crit.itemStyle.borderColor).toBe(LEVEL_COLOURS[3])
  })

  it('SLW-MON-3: WGS-84 fixes are drawn in GCJ-02 (the outlines datum); GCJ-02 fixes as reported', () => {
    const { normal } = deviceLayers(fleet, 'offline', null)
    const g = wgs84ToGcj02({ lat: 22.5431, lon: 114.0579 })
    expect(normal[0].value.slice(0, 2)).toEqual([g.lon, g.lat])
    expect(normal[1].value.slice(0, 2)).toEqual([114.0579, 22.5431])
  })

  it('EVC-MON-1: the selected device stands out; the view is only set when asked (the user keeps pan/zoom)', () => {
    const sel = (series(SERIES.devices).data as { name: string; symbolSize: number }[]).find((d) => d.name === 'cab-001')!
    expect(sel.symbolSize).toBeGreaterThan(11)
    expect(option.geo.map).toBe('cn-440000')
    expect(option.geo.roam).toBe(true)
    expect(option.geo).not.toHaveProperty('center')
    const withView = buildMapOption({
      mapName: 'china',
      nameMap: {},
      basemap: 'offline',
      items: [],
      selected: null,
      regionLabels: false,
      track: null,
      describe: () => '',
      view: { center: [114, -26], zoom: 40 },
    }) as { geo: Record<string, unknown> }
    expect(withView.geo).toMatchObject({ center: [114, -26], zoom: 40 })
    // While the outlines load there is no geo component (series would have no coordinate system to use).
    expect(buildMapOption({ ...withViewInput(), mapName: null })).not.toHaveProperty('geo')
  })

  it('SLW-MON-3: playback frames only touch the played path and the moving marker', () => {
    const t = mapTrack(trackFromHistory(history), 'offline')
    const frame = playbackSeries(t, 1_500) as { series: { id: string; data: { coords?: unknown[]; symbolRotate?: number }[] }[] }
    expect(frame.series.map((s) => s.id)).toEqual([SERIES.trackPlayed, SERIES.trackMarker])
    expect(frame.series[0].data[0].coords).toHaveLength(3)
    expect(frame.series[1].data[0].symbolRotate).toBe(-90)
    const atStart = playbackSeries(t, 900) as { series: { data: unknown[] }[] }
    expect(atStart.series[0].data).toEqual([]) // one point is not a line
    expect(atStart.series[1].data).toHaveLength(1)
    const cleared = playbackSeries(null, null) as { series: { data: unknown[] }[] }
    expect(cleared.series.every((s) => s.data.length === 0)).toBe(true)
    const withTrack = buildMapOption({ ...withViewInput(), track: t }) as { series: { id: string; data?: unknown[] }[] }
    expect(withTrack.series.find((s) => s.id === SERIES.trackPath)!.data).toHaveLength(1)
    expect(withTrack.series.find((s) => s.id === SERIES.trackEnds)!.data).toHaveLength(2)
    expect(withTrack.series.find((s) => s.id === SERIES.trackPlayed)).not.toHaveProperty('data')
  })
})

function withViewInput() {
  return {
    mapName: 'china' as string | null,
    nameMap: {},
    basemap: 'offline' as const,
    items: [] as FleetPosition[],
    selected: null,
    regionLabels: false,
    track: null,
    describe: () => '',
  }
}

/** History buckets as the API returns them for type=position (see shared/domain/telemetry/downsample.py). */
const history = [
  { device_ts_ms: 2_000, count: 1, fix: { latitude_deg: 22.56, longitude_deg: 114.07, coordinate_system: 'WGS-84', ts_ms: 2_000, speed_kmh: 20, heading_deg: 0 } },
  { device_ts_ms: 0, count: 3, fix: { latitude_deg: 22.54, longitude_deg: 114.05, coordinate_system: 'WGS-84', ts_ms: 900, speed_kmh: 20, heading_deg: 90 } },
  { device_ts_ms: 1_000, count: 2, fix: { latitude_deg: 22.55, longitude_deg: 114.06, coordinate_system: 'WGS-84', ts_ms: 1_000, speed_kmh: 10, heading_deg: 90 } },
  { device_ts_ms: 1_000, count: 1, fix: { latitude_deg: 22.55, longitude_deg: 114.06, coordinate_system: 'WGS-84', ts_ms: 1_000, speed_kmh: 10, heading_deg: 90 } },
  { device_ts_ms: 1_500, count: 4, fix: null }, // a bucket without a valid fix
  { device_ts_ms: 1_600, count: 1, avg: { soc_pct: 50 } }, // not a position bucket
]

describe('track', () => {
  it('SLW-MON-3: the track is each bucket’s last valid fix, ascending, without duplicates or fix-less buckets', () => {
    const t = trackFromHistory(history)
    expect(t.map((p) => p.ts)).toEqual([900, 1_000, 2_000])
    expect(t[0]).toEqual({ ts: 900, latitude_deg: 22.54, longitude_deg: 114.05, coordinate_system: 'WGS-84', speed_kmh: 20, heading_deg: 90 })
    expect(trackFromHistory([])).toEqual([])
  })

  it('SLW-MON-3: the cursor interpolates between fixes and stays at the ends outside them', () => {
    const m = mapTrack(trackFromHistory(history), 'offline')
    expect(indexAt(m.ts, 899)).toBe(-1)
    expect(indexAt(m.ts, 1_000)).toBe(1)
    expect(indexAt(m.ts, 5_000)).toBe(2)
    const mid = cursorAt(m, 1_500)!
    expect(mid.coord[0]).toBeCloseTo((m.coords[1][0] + m.coords[2][0]) / 2, 9)
    expect(mid.coord[1]).toBeCloseTo((m.coords[1][1] + m.coords[2][1]) / 2, 9)
    expect(mid.index).toBe(1)
    expect(cursorAt(m, 0)!.coord).toEqual(m.coords[0])
    expect(cursorAt(m, 9_999)!.coord).toEqual(m.coords[2])
    expect(playedCoords(m, 1_000)).toEqual(m.coords.slice(0, 2))
    expect(playedCoords(m, 1_500)).toHaveLength(3)
    expect(cursorAt({ ts: [], coords: [], speed: [], heading: [] }, 1)).toBeNull()
    // Two fixes about 2.3 km apart.
    expect(trackLengthM(m) / 1000).toBeGreaterThan(2)
    expect(trackLengthM(m) / 1000).toBeLessThan(3.5)
  })

  it('SLW-MON-3: playback advances by wall time × speed and stops at the end', () => {
    expect(advance(0, 100, 1, 10_000)).toEqual({ t: 100, ended: false })
    expect(advance(0, 100, 64, 10_000)).toEqual({ t: 6_400, ended: false })
    expect(advance(9_000, 100, 16, 10_000)).toEqual({ t: 10_000, ended: true })
  })

  it('SLW-MON-3: the range defaults to the last 6 hours and is at most 31 days', () => {
    const now = 1_800_000_000_000
    expect(defaultRange(now)).toEqual([now - 6 * HOUR_MS, now])
    expect(rangeProblem(defaultRange(now))).toBeNull()
    expect(rangeProblem([now, now])).toBe('rangeOrder')
    expect(rangeProblem([now - MAX_RANGE_MS - 1, now])).toBe('rangeTooLong')
    expect(rangeProblem([now - MAX_RANGE_MS, now])).toBeNull()
    expect(rangeProblem(null)).toBe('rangeMissing')
  })
})

describe('device panel', () => {
  it('EVC-MON-1: the worst alarm shown is open, highest level, newest', () => {
    const a = [
      { level: 2 as const, status: 'active' as const, raised_at_ms: 5, code: 'a' },
      { level: 3 as const, status: 'cleared' as const, raised_at_ms: 9, code: 'b' },
      { level: 2 as const, status: 'acknowledged' as const, raised_at_ms: 7, code: 'c' },
      { level: 1 as const, status: 'active' as const, raised_at_ms: 8, code: 'd' },
    ]
    expect(worstOpenAlarm(a)?.code).toBe('c')
    expect(worstOpenAlarm([a[1]])).toBeNull()
  })
})

describe('track bar', () => {
  it('LCM-UI-2, SLW-MON-3: play/pause, speeds, scrubber and the point count are there and labelled', async () => {
    const i18n = createI18n({ legacy: false, locale: 'en', messages: mergedMessages() })
    const track = mapTrack(trackFromHistory(history), 'offline')
    const w = mount(TrackBar, {
      props: { thing: 'pack-001', track, t: 900, playing: false, speed: 16, rawCount: 6, truncated: true, downsampled: false },
      global: { plugins: [i18n], stubs: { 'router-link': true } },
    })
    expect(w.find('[data-testid="track-points"]').attributes('data-points')).toBe('3')
    const play = w.find('[data-testid="track-play"]')
    expect(play.attributes('aria-label')).toBe('Play')
    await play.trigger('click')
    expect(w.emitted('toggle')).toHaveLength(1)
    expect(w.find('[data-testid="track-slider"]').exists()).toBe(true)
    expect(w.find('[data-testid="track-truncated"]').text()).toContain('6')
    expect(w.text()).toContain('64×')
    await w.setProps({ playing: true })
    expect(w.find('[data-testid="track-play"]').attributes('aria-label')).toBe('Pause')
  })
})
