// LCM-MON-4, SLW-WEB-4, LCM-UI-1: the fleet overview's figures and charts, and the live refresh coalescing.
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Schemas } from '@/api/client'
import { LEVEL_COLOURS, STATUS_COLOURS } from '@/format'
import { filtersFromQuery as alarmFilters } from '@/views/alarms/filters'
import { filtersFromQuery as deviceFilters } from '@/views/devices/listQuery'
import { createCoalescer } from '@/views/overview/live'
import {
  hourLabel,
  kindStatusOption,
  kpis,
  levelDonutOption,
  trendOption,
  trendSeries,
  type FleetOverview,
} from '@/views/overview/overviewCharts'

const t = (k: string) => `«${k}»`
const HOUR = 3_600_000

function row(thing: string, over: Partial<Schemas['FleetDeviceRow']> = {}): Schemas['FleetDeviceRow'] {
  return {
    thing_name: thing,
    kind: 'battery_pack',
    model_id: 'LFP-16S',
    battery_code: null,
    registry_status: 'active',
    status: 'fault',
    online: true,
    last_seen_ms: 1_700_000_000_000,
    state: 'fault',
    soc_pct: 50,
    pack_voltage_v: 52,
    current_a: 0,
    max_cell_voltage_v: 3.3,
    min_cell_voltage_v: 3.2,
    max_temperature_c: 30,
    cell_count: 16,
    worst_level: 3,
    active_alarms: 2,
    worst_alarm_code: 'cell_over_voltage',
    position: null,
    ...over,
  }
}

function overview(over: Partial<FleetOverview> = {}): FleetOverview {
  const start = Date.UTC(2026, 0, 1, 0)
  return {
    generated_at_ms: start + 24 * HOUR,
    devices: {
      total: 12,
      online: 9,
      by_kind: { battery_pack: 8, storage_cabinet: 4 },
      by_status: { charging: 3, discharging: 2, idle: 2, fault: 2, offline: 2, inactive: 1 },
      by_kind_status: {
        battery_pack: { charging: 2, discharging: 2, idle: 1, fault: 1, offline: 1, inactive: 1 },
        storage_cabinet: { charging: 1, discharging: 0, idle: 1, fault: 1, offline: 1, inactive: 0 },
      },
    },
    alarms: { active_total: 7, active_by_level: { '0': 1, '1': 2, '2': 3, '3': 1 }, unacknowledged: 4 },
    trend: {
      bucket_ms: HOUR,
      from_ms: start,
      to_ms: start + 24 * HOUR,
      truncated: false,
      // The API may leave a level out of a bucket; the chart must not.
      buckets: Array.from({ length: 24 }, (_, i) => ({
        start_ms: start + i * HOUR,
        by_level: (i === 5 ? { '3': 2 } : { '1': 1 }) as Record<string, number>,
      })),
    },
    worst_devices: [row('p-1')],
    ...over,
  }
}

type Series = { id: string; name: string; data: unknown[]; itemStyle?: { color?: string } }
const seriesOf = (o: unknown) => (o as { series: Series[] }).series

describe('KPI cards', () => {
  it('LCM-MON-4, SLW-WEB-4: totals, statuses and alarms, level 3 highlighted, each linking to its filtered list', () => {
    const cards = kpis(overview())
    const by = Object.fromEntries(cards.map((c) => [c.key, c]))
    expect(cards.map((c) => c.key)).toEqual([
      'total',
      'online',
      'charging',
      'discharging',
      'fault',
      'offline',
      'alarms',
      'level3',
      'unacknowledged',
    ])
    expect(by.total.value).toBe(12)
    expect(by.online.value).toBe(9)
    expect(by.fault.value).toBe(2)
    expect(by.fault.tone).toBe('danger')
    expect(by.level3.value).toBe(1)
    expect(by.level3.tone).toBe('critical')
    expect(by.alarms.value).toBe(7)
    expect(by.fault.to).toEqual({ name: 'devices', query: { status: 'fault' } })
  })

  it('LCM-MON-4, LCM-UI-1: the cards open the device list and the alarm centre with the filters they count', () => {
    const by = Object.fromEntries(kpis(overview()).map((c) => [c.key, c]))
    const q = (k: string) => (by[k].to.query ?? {}) as Record<string, string>
    expect(deviceFilters(q('online')).status).toEqual(['charging', 'discharging', 'idle', 'fault'])
    expect(deviceFilters(q('offline')).status).toEqual(['offline'])
    expect(by.level3.to.name).toBe('alarms')
    expect(alarmFilters(q('level3'))).toMatchObject({ status: 'open', levelMin: 3 })
    expect(alarmFilters(q('unacknowledged'))).toMatchObject({ status: 'active', levelMin: null })
    expect(alarmFilters(q('alarms'))).toMatchObject({ status: 'open' })
  })

  it('LCM-MON-4: a quiet fleet has no alarm highlight', () => {
    const o = overview({ alarms: { active_total: 0, active_by_level: { '0': 0, '1': 0, '2': 0, '3': 0 }, unacknowledged: 0 } })
    const by = Object.fromEntries(kpis(o).map((c) => [c.key, c]))
    expect(by.level3.tone).toBe('neutral')
    expect(by.alarms.tone).toBe('neutral')
  })
})

describe('charts', () => {
  it('LCM-MON-4: kind × status is one stacked series per status in status colours, zeros where a kind has none', () => {
    const s = seriesOf(kindStatusOption(overview(), t, 'en'))
    expect(s.map((x) => x.id)).toEqual(['charging', 'discharging', 'idle', 'fault', 'offline', 'inactive'])
    expect(s.find((x) => x.id === 'discharging')?.data).toEqual([2, 0])
    expect(s.find((x) => x.id === 'fault')?.itemStyle?.color).toBe(STATUS_COLOURS.fault)
    expect((kindStatusOption(overview(), t, 'en') as { animation: boolean }).animation).toBe(false)
  })

  it('LCM-MON-4: open alarms per level use the level colours and keep every level', () => {
    const o = overview({ alarms: { active_total: 2, active_by_level: { '3': 2 }, unacknowledged: 2 } })
    const [ring, pie] = seriesOf(levelDonutOption(o, t, 'en'))
    expect(ring.data).toEqual([])
    const data = pie.data as { name: string; value: number; itemStyle: { color: string } }[]
    expect(data.map((d) => d.value)).toEqual([0, 0, 0, 2])
    expect(data[3].itemStyle.color).toBe(LEVEL_COLOURS[3])
    expect(data[0].name).toBe('«level.0»')
  })

  it('LCM-MON-4: no open alarm draws an empty ring (not four equal slices)', () => {
    const o = overview({ alarms: { active_total: 0, active_by_level: {}, unacknowledged: 0 } })
    const [ring, pie] = seriesOf(levelDonutOption(o, t, 'en'))
    expect(ring.data).toHaveLength(1)
    expect(pie.data).toHaveLength(4)
    expect((pie as unknown as { stillShowZeroSum: boolean }).stillShowZeroSum).toBe(false)
  })

  it('LCM-MON-4: the trend always has all four levels, one value per hour bucket', () => {
    const ts = trendSeries(overview().trend)
    expect(Object.keys(ts.byLevel)).toEqual(['0', '1', '2', '3'])
    for (const k of ['0', '1', '2', '3'] as const) expect(ts.byLevel[k]).toHaveLength(24)
    expect(ts.byLevel['3'][5]).toBe(2)
    expect(ts.byLevel['1'][5]).toBe(0)
    expect(ts.byLevel['0'].every((v) => v === 0)).toBe(true)
    expect(ts.total).toBe(23 + 2)
    const s = seriesOf(trendOption(overview().trend, t, 'en'))
    expect(s.map((x) => x.id)).toEqual(['level-0', 'level-1', 'level-2', 'level-3'])
    expect(s[3].itemStyle?.color).toBe(LEVEL_COLOURS[3])
  })

  it('LCM-MON-4: an empty trend still yields four (empty) series, buckets sorted by time', () => {
    const empty = trendSeries({ bucket_ms: HOUR, from_ms: 0, to_ms: 0, buckets: [], truncated: false })
    expect(Object.values(empty.byLevel).map((a) => a.length)).toEqual([0, 0, 0, 0])
    const shuffled = trendSeries({
      bucket_ms: HOUR,
      from_ms: 0,
      to_ms: 2 * HOUR,
      truncated: false,
      buckets: [
        { start_ms: HOUR, by_level: { '2': 5 } },
        { start_ms: 0, by_level: { '2': 1 } },
      ],
    })
    expect(shuffled.starts).toEqual([0, HOUR])
    expect(shuffled.byLevel['2']).toEqual([1, 5])
  })

  it('LCM-UI-1: hour labels are in Asia/Shanghai', () => {
    expect(hourLabel(Date.UTC(2026, 0, 1, 16), 'en', false)).toBe('00:00')
    expect(hourLabel(Date.UTC(2026, 0, 1, 16), 'zh-CN', true)).toContain('01')
  })
})

describe('live refresh', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('LCM-MON-4: a burst of alarm pushes makes one reload, and reloads are at least 2 s apart', async () => {
    vi.useFakeTimers()
    const fn = vi.fn(async () => undefined)
    const c = createCoalescer(fn, { minIntervalMs: 2000, settleMs: 250 })
    for (let i = 0; i < 10; i++) c.trigger()
    await vi.advanceTimersByTimeAsync(300)
    expect(fn).toHaveBeenCalledTimes(1)
    c.trigger()
    await vi.advanceTimersByTimeAsync(1000)
    expect(fn).toHaveBeenCalledTimes(1) // still inside the 2 s
    await vi.advanceTimersByTimeAsync(1100)
    expect(fn).toHaveBeenCalledTimes(2)
    c.cancel()
    c.trigger()
    await vi.advanceTimersByTimeAsync(5000)
    expect(fn).toHaveBeenCalledTimes(2)
  })

  it('LCM-MON-4: a push during a reload schedules exactly one more; a failing reload does not stop later ones', async () => {
    vi.useFakeTimers()
    let release: () => void = () => {}
    let calls = 0
    const fn = vi.fn(() => {
      calls++
      if (calls === 1) return new Promise<void>((r) => (release = r))
      if (calls === 2) return Promise.reject(new Error('503'))
      return Promise.resolve()
    })
    const c = createCoalescer(fn, { minIntervalMs: 2000, settleMs: 0 })
    c.trigger()
    await vi.advanceTimersByTimeAsync(1)
    expect(fn).toHaveBeenCalledTimes(1)
    c.trigger()
    c.trigger()
    release()
    await vi.advanceTimersByTimeAsync(2100)
    expect(fn).toHaveBeenCalledTimes(2) // the pending one, after the interval
    c.trigger()
    await vi.advanceTimersByTimeAsync(2100)
    expect(fn).toHaveBeenCalledTimes(3)
  })

  it('LCM-MON-4: flush runs at once (a user refresh)', async () => {
    vi.useFakeTimers()
    const fn = vi.fn(async () => undefined)
    const c = createCoalescer(fn, { minIntervalMs: 2000 })
    await c.flush()
    expect(fn).toHaveBeenCalledTimes(1)
  })
})
