// LCM-MON-1, LCM-MON-2, LCM-MON-3, LCM-MON-4, LCM-UI-1, LCM-UI-2, LCM-PF-3, SLW-MON-1, SLW-WEB-5, SLW-CTL-1, SLW-CTL-2:
// the device list's URL filters, the cell charts, live values, history, usage and commands.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createRouter, createMemoryHistory } from 'vue-router'
import { defineComponent, h, nextTick } from 'vue'
import type { Schemas } from '@/api/client'
import { i18n, mergedMessages } from '@/i18n'
import {
  activeFilterCount,
  apiQuery,
  clampPage,
  defaultFilters,
  filtersFromQuery,
  filtersToQuery,
  toggleSort,
  withFilter,
  type DeviceFilters,
} from '@/views/devices/listQuery'
import {
  cellStats,
  cellTooltip,
  cellVoltageOption,
  heatmapDims,
  heatmapOption,
  temperatureScale,
  voltageAxisRange,
} from '@/views/devices/cellCharts'
import { isNewer, liveValuesFrom, liveValuesFromState, sensorRows } from '@/views/devices/liveValues'
import {
  fromPicker,
  HOUR_MS,
  historyOption,
  maxPointsForWidth,
  metricSeries,
  parsePoints,
  pickerShortcuts,
  rangeProblem,
  toPicker,
  usageFromHistory,
  zoneOffsetMs,
  type HistoryPoint,
} from '@/views/devices/history'
import {
  ackOverdue,
  applyCommandPush,
  commandParams,
  commandPushFor,
  isFinal,
  OPERATOR_COMMANDS,
  progressStep,
  sendBody,
  upsertCommand,
  validateCommand,
  type CommandRecord,
} from '@/views/devices/commands'
import FleetTable from '@/views/devices/FleetTable.vue'
import CellVoltageChart from '@/views/devices/detail/CellVoltageChart.vue'
import CellTempHeatmap from '@/views/devices/detail/CellTempHeatmap.vue'

// Element Plus styles are CSS files that Node cannot import; the components render without them.
vi.mock('element-plus/es/components/base/style/css', () => ({}))
vi.mock('element-plus/es/components/tag/style/css', () => ({}))
vi.mock('element-plus/es/components/icon/style/css', () => ({}))
vi.mock('element-plus/es/components/tooltip/style/css', () => ({}))

const t = (k: string, n?: Record<string, unknown>) => (n ? `${k}${JSON.stringify(n)}` : k)

describe('device list filters in the URL', () => {
  it('LCM-UI-1: filters → URL query → filters is the identity, and defaults leave the URL clean', () => {
    const f: DeviceFilters = {
      q: 'pack-0',
      kind: 'storage_cabinet',
      status: ['fault', 'offline'],
      model: 'LFP-400S',
      minLevel: 2,
      sort: 'soc_pct',
      order: 'desc',
      page: 3,
      pageSize: 50,
    }
    const q = filtersToQuery(f)
    expect(q).toEqual({
      q: 'pack-0',
      kind: 'storage_cabinet',
      status: 'fault,offline',
      model: 'LFP-400S',
      min_level: '2',
      sort: 'soc_pct',
      order: 'desc',
      page: '3',
      page_size: '50',
    })
    expect(filtersFromQuery(q as Record<string, string>)).toEqual(f)
    expect(filtersToQuery(defaultFilters())).toEqual({})
    expect(filtersFromQuery({})).toEqual(defaultFilters())
  })

  it('LCM-UI-1: junk in the URL is dropped, repeated statuses are accepted in canonical order', () => {
    const f = filtersFromQuery({
      kind: 'toaster',
      status: ['offline', 'fault,bogus', 'offline'],
      min_level: '7',
      sort: 'drop table',
      order: 'sideways',
      page: '-2',
      page_size: '33',
    })
    expect(f.kind).toBeNull()
    expect(f.status).toEqual(['fault', 'offline'])
    expect(f.minLevel).toBeNull()
    expect(f.sort).toBe('worst_level')
    expect(f.order).toBe('desc')
    expect(f.page).toBe(1)
    expect(f.pageSize).toBe(20)
  })

  it('LCM-MON-4: the API query carries every filter with the API names', () => {
    const f = { ...defaultFilters(), q: ' x ', status: ['charging' as const, 'idle' as const], model: 'M1', minLevel: 0, kind: 'battery_pack' as const }
    expect(apiQuery(f)).toEqual({
      q: 'x',
      kind: 'battery_pack',
      status: 'charging,idle',
      model_id: 'M1',
      min_level: 0,
      sort: 'worst_level',
      order: 'desc',
      page: 1,
      page_size: 20,
    })
  })

  it('LCM-UI-1: clicking a header sorts by it (natural order first), clicking again flips; filters reset the page', () => {
    const f = { ...defaultFilters(), page: 4 }
    const byName = toggleSort(f, 'thing_name')
    expect([byName.sort, byName.order, byName.page]).toEqual(['thing_name', 'asc', 1])
    expect(toggleSort(byName, 'thing_name').order).toBe('desc')
    expect(toggleSort(f, 'last_seen_ms').order).toBe('desc')
    expect(toggleSort(f, 'worst_level').order).toBe('asc') // already the sort: flips
    expect(withFilter(f, { kind: 'battery_pack' }).page).toBe(1)
    expect(activeFilterCount({ ...f, q: 'a', status: ['fault'] })).toBe(2)
    expect(clampPage(5, 41, 20)).toBe(3)
    expect(clampPage(2, 0, 20)).toBe(1)
  })
})

function cells(n: number, dropouts: number[] = []): (number | null)[] {
  return Array.from({ length: n }, (_, i) => (dropouts.includes(i) ? null : 3.3 + ((i * 7) % 13) / 1000))
}

type Series = { id: string; data: unknown[]; large?: boolean; animation?: boolean; markLine?: { data: { yAxis: number }[] } }
const seriesOf = (o: unknown) => (o as { series: Series[] }).series

describe('cell voltage chart', () => {
  it('LCM-MON-1: 400 cells make 400 bars, no animation, large mode, the same four series', () => {
    const values = cells(400, [6, 399])
    const o = cellVoltageOption(values, t, 'en') as { animation: boolean; xAxis: { data: string[] } }
    const s = seriesOf(o)
    expect(o.animation).toBe(false)
    expect(s.map((x) => x.id)).toEqual(['cells', 'max', 'min', 'dropouts'])
    for (const x of s) {
      expect(x.data).toHaveLength(400)
      expect(x.animation).toBe(false)
      expect(x.large).toBe(true)
    }
    expect(o.xAxis.data).toHaveLength(400)
    expect(o.xAxis.data[6]).toBe('7') // cells are numbered from 1
  })

  it('LCM-MON-1: dropouts are marked (never drawn as 0), highest/lowest highlighted, mean line drawn', () => {
    const values: (number | null)[] = [3.31, null, 3.35, 3.29, null]
    const o = cellVoltageOption(values, t, 'en')
    const [cellsS, max, min, drop] = seriesOf(o)
    const [, hi] = voltageAxisRange(cellStats(values))
    expect(cellsS.data).toEqual([3.31, '-', 3.35, 3.29, '-'])
    expect(drop.data).toEqual(['-', hi, '-', '-', hi])
    expect(max.data).toEqual(['-', '-', 3.35, '-', '-'])
    expect(min.data).toEqual(['-', '-', '-', 3.29, '-'])
    expect(cellsS.markLine?.data[0].yAxis).toBeCloseTo(3.3167, 3)
    expect(cellTooltip(1, values, cellStats(values), t, 'en')).toContain('devices.cells.noReading')
    expect(cellTooltip(2, values, cellStats(values), t, 'en')).toContain('devices.cells.highest')
  })

  it('LCM-MON-1: a 10 mV spread stays visible (axis fits the cells, not 0 V); all dropouts still chart', () => {
    const [lo, hi] = voltageAxisRange(cellStats([3.3, 3.31]))
    expect(lo).toBeGreaterThan(3.2)
    expect(hi).toBeLessThan(3.4)
    const allGone = cellVoltageOption([null, null], t, 'en')
    expect(seriesOf(allGone)[3].data).toEqual([5, 5])
    expect(seriesOf(allGone)[0].markLine?.data).toEqual([])
  })
})

describe('temperature heatmap', () => {
  it('LCM-MON-3: grid dimensions for 16, 100 and 400 cells (about 20 columns), 10 on phones', () => {
    expect(heatmapDims(16)).toEqual({ cols: 8, rows: 2 })
    expect(heatmapDims(100)).toEqual({ cols: 20, rows: 5 })
    expect(heatmapDims(400)).toEqual({ cols: 20, rows: 20 })
    expect(heatmapDims(8)).toEqual({ cols: 8, rows: 1 })
    expect(heatmapDims(0)).toEqual({ cols: 0, rows: 0 })
    expect(heatmapDims(400, 10)).toEqual({ cols: 10, rows: 40 })
    expect(heatmapDims(16, 10)).toEqual({ cols: 10, rows: 2 })
  })

  it('LCM-MON-3: every probe is placed once, dropouts in their own hatched series, no animation', () => {
    const temps = Array.from({ length: 400 }, (_, i) => (i === 21 ? null : 25 + (i % 10)))
    const o = heatmapOption(temps, t, 'en') as { animation: boolean; visualMap: { min: number; max: number } }
    const [ok, drop] = seriesOf(o)
    expect(o.animation).toBe(false)
    expect(ok.data).toHaveLength(399)
    expect(drop.data).toEqual([[1, 1, 0]]) // probe 22 → column 2, row 2
    const places = new Set([...ok.data, ...drop.data].map((d) => (d as number[]).slice(0, 2).join(',')))
    expect(places.size).toBe(400)
    expect(o.visualMap.max).toBeGreaterThanOrEqual(60)
    expect(temperatureScale([70, 20], 55)).toEqual([10, 70])
  })
})

describe('live values', () => {
  const body = {
    kind: 'storage_cabinet',
    boot_id: 'b',
    seq: 3,
    device_ts_ms: 1_767_225_600_000,
    pack_voltage_v: 51.2,
    current_a: -20,
    soc_pct: 64,
    insulation_resistance_kohm: 2000,
    cell_voltages_v: [3.2, null, 3.25, 3.18],
    probe_temperatures_c: [25, 31.5, null],
    state: 'charging',
    h2_ppm: 0,
    co_ppm: null,
    smoke_detected: false,
    flame_detected: null,
    water_ingress: true,
    door_open: false,
    module_pressure_kpa: 101.3,
    breaker_closed: true,
  }

  it('LCM-MON-1, LCM-MON-2, LCM-MON-3: a pushed sample yields extremes with 1-based numbers, dropouts skipped', () => {
    const v = liveValuesFrom(body, null, 5)
    expect(v).not.toBeNull()
    expect(v?.maxCell).toEqual({ value: 3.25, no: 3 })
    expect(v?.minCell).toEqual({ value: 3.18, no: 4 })
    expect(v?.spreadMv).toBe(70)
    expect(v?.maxTemp).toEqual({ value: 31.5, no: 2 })
    expect(v?.missingCells).toBe(1)
    expect(v?.missingTemps).toBe(1)
    expect(v?.powerKw).toBeCloseTo(-1.024)
    expect(v?.cells).toHaveLength(4)
    expect(liveValuesFrom({ kind: 'position' }, 1, 1)).toBeNull()
    expect(liveValuesFrom('garbage', 1, 1)).toBeNull()
  })

  it('LCM-MON-1: the stored state uses the derived values of ingest and the arrival time', () => {
    const st: Schemas['LatestState'] = {
      thing_name: 'p',
      state: {
        telemetry: {
          body,
          device_ts_ms: 10,
          arrival_ms: 20,
          derived: { cell_count: 4, max_cell_voltage_v: 3.25, max_cell_voltage_no: 3, min_cell_voltage_v: 3.18, min_cell_voltage_no: 4 },
        },
      },
    }
    const v = liveValuesFromState(st)
    expect(v?.receivedMs).toBe(20)
    expect(v?.maxCell).toEqual({ value: 3.25, no: 3 })
    expect(liveValuesFromState({ thing_name: 'p', state: {} })).toBeNull()
    const older = liveValuesFrom({ ...body, device_ts_ms: 1 }, null, 0)!
    expect(isNewer(older, v)).toBe(false)
    expect(isNewer(v!, older)).toBe(true)
  })

  it('SLW-MON-1: cabinet sensors — a null boolean is a sensor fault, alarms are danger, door open a warning', () => {
    const v = liveValuesFrom(body, null, 0)!
    const rows = Object.fromEntries(sensorRows(v.sensors!).map((r) => [r.key, r]))
    expect(Object.keys(rows)).toHaveLength(8)
    expect(rows.flame_detected.tone).toBe('fault')
    expect(rows.flame_detected.textKey).toBe('devices.env.sensorFault')
    expect(rows.co_ppm.tone).toBe('fault')
    expect(rows.water_ingress.tone).toBe('danger')
    expect(rows.smoke_detected.tone).toBe('ok')
    expect(rows.breaker_closed.textKey).toBe('devices.env.closed')
    expect(rows.module_pressure_kpa.value).toBe(101.3)
    expect(liveValuesFrom({ ...body, kind: 'battery_pack' }, null, 0)?.sensors).toBeNull()
  })
})

function bucket(startMs: number, avg: Record<string, number>, count = 1, spread = 0): Record<string, unknown> {
  const min = Object.fromEntries(Object.entries(avg).map(([k, v]) => [k, v - spread]))
  const max = Object.fromEntries(Object.entries(avg).map(([k, v]) => [k, v + spread]))
  return { device_ts_ms: startMs, until_ms: startMs + 1000, count, min, max, avg, any: {}, last: { body: { state: 'idle' } } }
}

describe('history', () => {
  it('LCM-MON-2, LCM-MON-3: buckets become mean + min–max band per metric, a long silence breaks the line', () => {
    const pts = parsePoints([
      bucket(0, { pack_voltage_v: 50, current_a: 10 }, 5, 1),
      bucket(60_000, { pack_voltage_v: 51, current_a: 10 }, 5, 1),
      bucket(120_000, { pack_voltage_v: 52, current_a: 10 }, 5, 1),
      bucket(3_600_000, { pack_voltage_v: 53, current_a: 10 }, 5, 1),
    ])
    expect(pts[0].state).toBe('idle')
    const s = metricSeries(pts, 'pack_voltage_v')
    expect(s.hasBand).toBe(true)
    expect(s.mean).toEqual([50, 51, 52, null, 53])
    expect(s.low[0]).toBe(49)
    expect(s.high[0]).toBe(51)
    const o = historyOption(pts, t, 'en', [0, 3_700_000]) as { animation: boolean; grid: unknown[]; series: { id: string }[] }
    expect(o.animation).toBe(false)
    expect(o.grid).toHaveLength(4)
    expect(o.series.map((x) => x.id)).toContain('mean-max_temperature_c')
    expect(o.series).toHaveLength(12)
  })

  it('LCM-MON-4: points sized to the chart width within the API range; ranges up to 31 days', () => {
    expect(maxPointsForWidth(1200)).toBe(600)
    expect(maxPointsForWidth(8)).toBe(10)
    expect(maxPointsForWidth(100_000)).toBe(2000)
    expect(maxPointsForWidth(0)).toBe(500)
    const now = 40 * 24 * HOUR_MS
    expect(rangeProblem(now - HOUR_MS, now, now)).toBeNull()
    expect(rangeProblem(now - 32 * 24 * HOUR_MS, now, now)).toBe('tooLong')
    expect(rangeProblem(now, now - 1, now)).toBe('invalid')
    expect(rangeProblem(now + 10, now + 20, now)).toBe('future')
    const [h1, , , d7] = pickerShortcuts(t, () => now)
    const [from, to] = h1.value()
    expect(fromPicker(to) - fromPicker(from)).toBe(HOUR_MS)
    expect(fromPicker(to)).toBe(now)
    expect(d7.text).toBe('devices.history.last7d')
  })

  it('LCM-UI-1: the date picker shows and reads the console time zone (Asia/Shanghai), whatever the browser zone', () => {
    const ms = Date.UTC(2026, 0, 1, 16, 30, 0) // 00:30 on 2 January in Shanghai
    expect(zoneOffsetMs(ms, 'Asia/Shanghai')).toBe(8 * HOUR_MS)
    const d = toPicker(ms, 'Asia/Shanghai')
    expect([d.getDate(), d.getHours(), d.getMinutes()]).toEqual([2, 0, 30])
    expect(fromPicker(d, 'Asia/Shanghai')).toBe(ms)
    expect(fromPicker(toPicker(ms, 'America/New_York'), 'America/New_York')).toBe(ms)
  })

  it('SLW-WEB-5: energy in/out, efficiency and sessions from the bucket means; gaps count nothing', () => {
    const min = 60_000
    const pts: HistoryPoint[] = parsePoints([
      // 2 h charging at 10 kW, idle, 1 h discharging at 16 kW, 3 h offline, 1 h discharging at 2 kW.
      ...Array.from({ length: 120 }, (_, i) => bucket(i * min, { current_a: -200, pack_voltage_v: 50, power_kw: -10 })),
      ...Array.from({ length: 10 }, (_, i) => bucket((120 + i) * min, { current_a: 0.1, pack_voltage_v: 50, power_kw: 0.005 })),
      ...Array.from({ length: 60 }, (_, i) => bucket((130 + i) * min, { current_a: 320, pack_voltage_v: 50, power_kw: 16 })),
      ...Array.from({ length: 60 }, (_, i) => bucket((370 + i) * min, { current_a: 40, pack_voltage_v: 50, power_kw: 2 })),
    ])
    const u = usageFromHistory(pts)
    expect(u.chargedKwh).toBeCloseTo(20, 3)
    expect(u.dischargedKwh).toBeCloseTo(16 + 2 + 0.0008, 3)
    expect(u.efficiencyPct).toBeCloseTo(90, 0)
    expect(u.chargeSessions).toBe(1)
    expect(u.dischargeSessions).toBe(2) // the silence ends a session
    expect(usageFromHistory([]).efficiencyPct).toBeNull()
  })
})

function record(over: Partial<CommandRecord> = {}): CommandRecord {
  return {
    command_id: 'c1',
    tenant_id: 't',
    thing_name: 'p-1',
    name: 'restart',
    params: {},
    reason: 'r',
    origin: { type: 'operator', user: 'ops', alarm_id: null, rule_id: null, rule_version: null, samples: [] },
    idempotency_key: 'k',
    issued_at_ms: 100,
    expires_at_ms: 200,
    ack_deadline_ms: 200,
    status: 'sent',
    sent_at_ms: 101,
    acked_at_ms: null,
    ack_status: null,
    ack_reason: null,
    detail: {},
    updated_at_ms: 101,
    ...over,
  }
}

describe('commands', () => {
  it('SLW-CTL-1: the dialog offers exactly the commands the API accepts', () => {
    expect([...OPERATOR_COMMANDS].sort()).toEqual(
      ['cut_off', 'fault_reset', 'restart', 'set_parameters', 'set_reporting_interval', 'stop_charge', 'stop_discharge'].sort(),
    )
  })

  it('SLW-CTL-2: parameters are checked per command as the API does, and a reason is mandatory', () => {
    const codes = (e: ReturnType<typeof validateCommand>) => e.map((x) => `${x.field}:${x.code}`)
    expect(codes(validateCommand('restart', {}, ''))).toEqual(['reason:reasonRequired'])
    expect(validateCommand('restart', {}, 'maintenance')).toEqual([])
    expect(codes(validateCommand('set_reporting_interval', {}, 'x'))).toEqual(['interval_ms:required'])
    expect(codes(validateCommand('set_reporting_interval', { interval_ms: 50 }, 'x'))).toEqual(['interval_ms:range'])
    expect(codes(validateCommand('set_reporting_interval', { interval_ms: 1000.5 }, 'x'))).toEqual(['interval_ms:integer'])
    expect(codes(validateCommand('set_parameters', {}, 'x'))).toEqual(['params:atLeastOne'])
    expect(codes(validateCommand('set_parameters', { max_charge_current_a: 0 }, 'x'))).toEqual(['max_charge_current_a:rangeExclusive'])
    expect(codes(validateCommand('set_parameters', { min_temperature_c: 30, max_temperature_c: 20 }, 'x'))).toEqual([
      'min_temperature_c:minBelowMax',
    ])
    expect(codes(validateCommand('restart', {}, 'x'.repeat(501)))).toEqual(['reason:reasonTooLong'])
  })

  it('SLW-CTL-2: the request carries only the command’s own parameters, a trimmed reason and the idempotency key', () => {
    expect(commandParams('restart', { interval_ms: 5 })).toEqual({})
    expect(sendBody('set_reporting_interval', { interval_ms: 5000, max_temperature_c: 1 }, '  slow link ', 'console-k')).toEqual({
      name: 'set_reporting_interval',
      params: { interval_ms: 5000 },
      reason: 'slow link',
      idempotency_key: 'console-k',
      ttl_s: 30,
    })
  })

  it('SLW-CTL-1: a status push (not a whole record) merges into the command it is about; an unknown one asks for a reload', () => {
    const update = {
      type: 'command_status',
      command_id: 'c1',
      thing_name: 'p-1',
      name: 'restart',
      status: 'acked',
      ack_status: 'executed',
      ack_reason: null,
      ack_overdue: false,
      origin: 'operator',
      issued_at_ms: 100,
      updated_at_ms: 160,
    }
    const push = commandPushFor(update, 'p-1')!
    const applied = applyCommandPush([record()], push)
    expect(applied.known).toBe(true)
    expect(applied.list[0].status).toBe('acked')
    expect(applied.list[0].origin).toEqual(record().origin) // the record keeps what the push lacks
    expect(applied.list[0].reason).toBe('r')
    const stale = applyCommandPush(applied.list, commandPushFor({ ...update, status: 'sent', updated_at_ms: 120 }, 'p-1')!)
    expect(stale.list[0].status).toBe('acked')
    expect(applyCommandPush([], push).known).toBe(false)
    const overdue = applyCommandPush([record()], commandPushFor({ ...update, status: 'sent', ack_overdue: true }, 'p-1')!)
    expect(ackOverdue(overdue.list[0])).toBe(true)
    const whole = applyCommandPush([], commandPushFor(record({ status: 'failed', updated_at_ms: 300 }), 'p-1')!)
    expect(whole.known && whole.list[0].status === 'failed').toBe(true)
  })

  it('SLW-CTL-1: progress follows pushes; a stale push never overwrites a newer status; other devices are ignored', () => {
    let list = upsertCommand([], record())
    list = upsertCommand(list, record({ status: 'acked', updated_at_ms: 150, acked_at_ms: 150 }))
    expect(list).toHaveLength(1)
    expect(list[0].status).toBe('acked')
    list = upsertCommand(list, record({ status: 'sent', updated_at_ms: 120 }))
    expect(list[0].status).toBe('acked')
    list = upsertCommand(list, record({ command_id: 'c2', issued_at_ms: 300, updated_at_ms: 300 }))
    expect(list.map((c) => c.command_id)).toEqual(['c2', 'c1'])
    expect(commandPushFor(record(), 'p-2')).toBeNull()
    expect(commandPushFor({ thing_name: 'p-1' }, 'p-1')).toBeNull()
    expect(isFinal('acked') && isFinal('expired') && !isFinal('sent')).toBe(true)
    expect([progressStep('pending'), progressStep('sent'), progressStep('rejected')]).toEqual([1, 2, 3])
  })
})

// Chart components draw on a canvas happy-dom does not have: stand-in that keeps the option.
const EChartStub = defineComponent({
  props: { option: { type: Object, required: true }, ariaLabel: String, height: String },
  setup: (p) => () => h('div', { class: 'echart-stub', 'data-series': (p.option as { series: unknown[] }).series.length }),
})

function mountWith(component: unknown, props: Record<string, unknown>) {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'home', component: { render: () => null } },
      { path: '/devices/:thing', name: 'device', component: { render: () => null } },
    ],
  })
  const options = {
    props,
    global: { plugins: [i18n, router], stubs: { EChart: EChartStub, 'el-tooltip': { template: '<span><slot /></span>' } } },
  }
  const wrapper = mount(component as ReturnType<typeof defineComponent>, options as never)
  return { wrapper, router }
}

describe('components', () => {
  it('LCM-MON-1, LCM-MON-3: the cell charts expose how many cells they draw, dropouts included', () => {
    const { wrapper } = mountWith(CellVoltageChart, { values: cells(400, [3, 9]) })
    const el = wrapper.get('[data-testid="cell-voltage-chart"]')
    expect(el.attributes('data-cells')).toBe('400')
    expect(el.attributes('data-dropouts')).toBe('2')
    const heat = mountWith(CellTempHeatmap, { values: [20, null, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43] }).wrapper
    const hm = heat.get('[data-testid="cell-temp-heatmap"]')
    expect(hm.attributes('data-cells')).toBe('16')
    expect(hm.attributes('data-cols')).toBe('8')
    expect(hm.attributes('data-rows')).toBe('2')
  })

  it('LCM-UI-1, LCM-UI-2: table rows are reachable with Tab and open the device with Enter; sortable headers say how', async () => {
    const row = {
      thing_name: 'pack-7',
      kind: 'battery_pack',
      model_id: 'M',
      battery_code: null,
      registry_status: 'active',
      status: 'idle',
      online: true,
      last_seen_ms: Date.now(),
      state: 'idle',
      soc_pct: 80,
      pack_voltage_v: 52,
      current_a: 0,
      max_cell_voltage_v: 3.3,
      min_cell_voltage_v: 3.3,
      max_temperature_c: 25,
      cell_count: 16,
      worst_level: null,
      active_alarms: 0,
      worst_alarm_code: null,
      position: null,
    } satisfies Schemas['FleetDeviceRow']
    const { wrapper, router } = mountWith(FleetTable, { rows: [row], sort: { key: 'soc_pct', order: 'asc' }, caption: 'c' })
    const push = vi.spyOn(router, 'push')
    const tr = wrapper.get('[data-testid="device-row"]')
    expect(tr.attributes('tabindex')).toBe('0')
    await tr.trigger('keydown', { key: 'Enter' })
    expect(push).toHaveBeenCalledWith({ name: 'device', params: { thing: 'pack-7' } })
    const soc = wrapper.findAll('th').find((th) => th.attributes('aria-sort') === 'ascending')
    expect(soc?.text()).toContain('SOC')
    await wrapper.get('[data-testid="sort-thing_name"]').trigger('click')
    await nextTick()
    expect(wrapper.emitted('sort')?.[0]).toEqual(['thing_name'])
  })
})

describe('messages', () => {
  type Tree = { [k: string]: string | Tree }
  const has = (tree: Tree, key: string) => key.split('.').reduce<unknown>((n, p) => (n as Tree | undefined)?.[p], tree) !== undefined

  function files(dir: string): string[] {
    return readdirSync(dir).flatMap((f) => {
      const p = join(dir, f)
      return statSync(p).isDirectory() ? files(p) : [p]
    })
  }

  it('LCM-UI-1: every literal message key of these pages exists in both languages', () => {
    const m = mergedMessages()
    const src = ['src/views/devices', 'src/views/overview'].flatMap(files).map((f) => readFileSync(f, 'utf8'))
    const keys = new Set(src.flatMap((s) => [...s.matchAll(/['"]((?:devices|overview|common|status|kind|level|nav)\.[A-Za-z0-9_.]+)['"]/g)].map((x) => x[1])))
    expect(keys.size).toBeGreaterThan(100)
    const missing = [...keys].filter((k) => !has(m['zh-CN'] as Tree, k) || !has(m.en as Tree, k))
    expect(missing).toEqual([])
  })

  it('LCM-UI-1: every dynamic key family is complete (commands, statuses, sensors, sort keys)', () => {
    const m = mergedMessages()
    const need = [
      ...OPERATOR_COMMANDS.flatMap((c) => [`devices.command.names.${c}`, `devices.command.help.${c}`]),
      ...['pending', 'sent', 'acked', 'rejected', 'failed', 'expired'].map((s) => `devices.commandStatus.${s}`),
      ...['active', 'acknowledged', 'cleared'].map((s) => `devices.alarmStatus.${s}`),
      ...['active', 'revoked', 'decommissioned'].map((s) => `devices.registry.${s}`),
      ...['idle', 'charging', 'discharging', 'fault', 'cut_off'].map((s) => `devices.state.${s}`),
      ...['thing_name', 'last_seen_ms', 'worst_level', 'soc_pct', 'status', 'kind'].map((s) => `devices.sort.${s}`),
      ...['interval_ms', 'max_charge_current_a', 'max_discharge_current_a', 'max_temperature_c', 'min_temperature_c'].map(
        (k) => `devices.command.paramNames.${k}`,
      ),
      ...['required', 'atLeastOne', 'range', 'rangeExclusive', 'integer', 'minBelowMax', 'reasonRequired', 'reasonTooLong'].map(
        (k) => `devices.command.errors.${k}`,
      ),
      ...['invalid', 'tooLong', 'future'].map((k) => `devices.history.problem.${k}`),
      ...['h24', 'h72', 'h168'].map((k) => `overview.hours.${k}`),
      ...['h2_ppm', 'co_ppm', 'smoke_detected', 'flame_detected', 'water_ingress', 'door_open', 'module_pressure_kpa', 'breaker_closed'].map(
        (k) => `devices.env.${k}`,
      ),
    ]
    for (const locale of ['zh-CN', 'en'] as const) expect(need.filter((k) => !has(m[locale] as Tree, k))).toEqual([])
  })
})
