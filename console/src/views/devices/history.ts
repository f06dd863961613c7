/**
 * A device's history chart (LCM-MON-2/3/4) from the server-side downsampled buckets of
 * `GET /v1/devices/{thing}/history` (shared/domain/telemetry/downsample.py: per bucket the
 * min/max/avg of every scalar reading and derived value, the sample count and the last body).
 * Pack voltage, current, SOC and the hottest probe are drawn as four small charts on one time
 * axis: the bucket mean as a line and, where a bucket holds several samples, its min–max band.
 * A silence longer than a few bucket steps breaks the line (offline is not interpolated).
 *
 * Also the second-life usage of the window (SLW-WEB-5): energy charged and discharged,
 * round-trip efficiency and the number of charge/discharge sessions, integrated from the
 * bucket means (an estimate at the chart's resolution, labelled as such on the page).
 */
import type { EChartsOption } from '@/charts/echarts'
import { currentTimeZone, formatDateTime, formatNumber, toPicker } from '@/format'
import type { Translate } from './translate'

export const HOUR_MS = 3_600_000
export const DAY_MS = 24 * HOUR_MS
/** The longest window one request may chart (the picker refuses more). */
export const MAX_RANGE_MS = 31 * DAY_MS
/** |current| at or below this is idle (as the fleet status rule). */
export const CURRENT_DEAD_BAND_A = 0.5

export interface HistoryPoint {
  startMs: number
  untilMs: number
  count: number
  min: Record<string, number>
  max: Record<string, number>
  avg: Record<string, number>
  state: string | null
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

function numbers(v: unknown): Record<string, number> {
  const out: Record<string, number> = {}
  if (!isObj(v)) return out
  for (const [k, x] of Object.entries(v)) if (typeof x === 'number' && Number.isFinite(x)) out[k] = x
  return out
}

/** The API's buckets (free-form objects in the schema) as typed points, ascending. */
export function parsePoints(points: readonly Obj[]): HistoryPoint[] {
  const out: HistoryPoint[] = []
  for (const p of points) {
    const start = p.device_ts_ms
    if (typeof start !== 'number') continue
    const last = isObj(p.last) ? p.last : {}
    const body = isObj(last.body) ? last.body : {}
    out.push({
      startMs: start,
      untilMs: typeof p.until_ms === 'number' ? p.until_ms : start,
      count: typeof p.count === 'number' ? p.count : 1,
      min: numbers(p.min),
      max: numbers(p.max),
      avg: numbers(p.avg),
      state: typeof body.state === 'string' ? body.state : null,
    })
  }
  return out.sort((a, b) => a.startMs - b.startMs)
}

export interface Metric {
  key: string
  i18n: string
  unit: string
  digits: number
  colour: string
  /** Fixed axis range (SOC); otherwise scaled to the data. */
  range?: [number, number]
}

export const HISTORY_METRICS: readonly Metric[] = [
  { key: 'pack_voltage_v', i18n: 'devices.values.packVoltage', unit: 'V', digits: 1, colour: '#409eff' },
  { key: 'current_a', i18n: 'devices.values.current', unit: 'A', digits: 1, colour: '#67c23a' },
  { key: 'soc_pct', i18n: 'devices.values.soc', unit: '%', digits: 0, colour: '#e6a23c', range: [0, 100] },
  { key: 'max_temperature_c', i18n: 'devices.values.maxTemp', unit: '°C', digits: 1, colour: '#f56c6c' },
]

function median(xs: number[]): number {
  if (!xs.length) return 0
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** The typical step between buckets and the gap above which a line is broken. */
export function stepAndGap(points: readonly HistoryPoint[]): { step: number; gap: number } {
  const steps: number[] = []
  for (let i = 1; i < points.length; i++) steps.push(points[i].startMs - points[i - 1].startMs)
  const step = median(steps)
  return { step, gap: step > 0 ? step * 4 : Number.POSITIVE_INFINITY }
}

export interface MetricSeries {
  t: number[]
  mean: (number | null)[]
  low: (number | null)[]
  high: (number | null)[]
  /** Some bucket summarises more than one sample (a band is worth drawing). */
  hasBand: boolean
}

/** One metric along time, with a null inserted in every gap (the same x for every metric). */
export function metricSeries(points: readonly HistoryPoint[], key: string): MetricSeries {
  const { step, gap } = stepAndGap(points)
  const out: MetricSeries = { t: [], mean: [], low: [], high: [], hasBand: false }
  points.forEach((p, i) => {
    if (i > 0 && p.startMs - points[i - 1].startMs > gap) {
      out.t.push(points[i - 1].startMs + step)
      out.mean.push(null)
      out.low.push(null)
      out.high.push(null)
    }
    out.t.push(p.startMs)
    out.mean.push(p.avg[key] ?? null)
    out.low.push(p.min[key] ?? null)
    out.high.push(p.max[key] ?? null)
    if (p.count > 1 && p.min[key] !== undefined && p.max[key] !== undefined && p.max[key] !== p.min[key]) out.hasBand = true
  })
  return out
}

/** Buckets to ask for: about one per two pixels of chart width, within the API's 10..5000. */
export function maxPointsForWidth(widthPx: number): number {
  if (!Number.isFinite(widthPx) || widthPx <= 0) return 500
  return Math.min(2000, Math.max(10, Math.floor(widthPx / 2)))
}

export type RangeProblem = 'invalid' | 'tooLong' | 'future' | null

export function rangeProblem(fromMs: number, toMs: number, nowMs = Date.now()): RangeProblem {
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs >= toMs) return 'invalid'
  if (toMs - fromMs > MAX_RANGE_MS) return 'tooLong'
  if (fromMs > nowMs) return 'future'
  return null
}

export const RANGE_SHORTCUTS = [
  { key: 'devices.history.last1h', ms: HOUR_MS },
  { key: 'devices.history.last6h', ms: 6 * HOUR_MS },
  { key: 'devices.history.last24h', ms: DAY_MS },
  { key: 'devices.history.last7d', ms: 7 * DAY_MS },
] as const

// The picker time-zone helpers live in src/format.ts (shared with the alarm centre).
export { fromPicker, toPicker, zoneOffsetMs } from '@/format'

/** el-date-picker shortcuts (evaluated when clicked, so "last hour" means now), as picker Dates. */
export function pickerShortcuts(
  t: Translate,
  now: () => number = Date.now,
  timeZone = currentTimeZone(),
): { text: string; value: () => [Date, Date] }[] {
  return RANGE_SHORTCUTS.map((s) => ({
    text: t(s.key),
    value: () => {
      const end = now()
      return [toPicker(end - s.ms, timeZone), toPicker(end, timeZone)]
    },
  }))
}

/** Axis labels in the console's time zone (ECharts would use the browser's). */
export function axisTimeLabel(ms: number, locale: string, spanMs: number): string {
  const withDate = spanMs > DAY_MS
  return new Intl.DateTimeFormat(locale, {
    timeZone: currentTimeZone(),
    month: withDate ? '2-digit' : undefined,
    day: withDate ? '2-digit' : undefined,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(ms))
}

/** Four stacked grids on one time axis: mean line + min–max band per metric. */
export function historyOption(points: readonly HistoryPoint[], t: Translate, locale: string, range: [number, number]): EChartsOption {
  const series = HISTORY_METRICS.map((m) => ({ m, s: metricSeries(points, m.key) }))
  const n = HISTORY_METRICS.length
  const span = range[1] - range[0]
  const gridTop = (i: number) => `${3 + i * 24}%`
  const pair = (ts: number[], ys: (number | null)[]) => ts.map((x, i) => [x, ys[i]] as [number, number | null])
  const axisIdx = HISTORY_METRICS.map((_, i) => i)
  return {
    animation: false,
    axisPointer: { link: [{ xAxisIndex: 'all' }] },
    tooltip: {
      trigger: 'axis',
      confine: true,
      axisPointer: { type: 'line' },
      formatter: (params: unknown) => {
        const list = (Array.isArray(params) ? params : [params]) as { dataIndex: number }[]
        const idx = list[0]?.dataIndex
        if (idx === undefined) return ''
        const head = formatDateTime(series[0].s.t[idx], locale)
        const lines = series.map(({ m, s }) => {
          const mean = s.mean[idx]
          if (mean === null || mean === undefined) return `${t(m.i18n)}: —`
          const band =
            s.low[idx] !== null && s.high[idx] !== null && s.low[idx] !== s.high[idx]
              ? ` (${formatNumber(s.low[idx], locale, m.digits)} – ${formatNumber(s.high[idx], locale, m.digits)})`
              : ''
          return `${t(m.i18n)}: ${formatNumber(mean, locale, m.digits)} ${m.unit}${band}`
        })
        return [head, ...lines].join('<br/>')
      },
    },
    grid: HISTORY_METRICS.map((_, i) => ({ left: 56, right: 16, top: gridTop(i), height: '16%' })),
    xAxis: HISTORY_METRICS.map((_, i) => ({
      type: 'time',
      gridIndex: i,
      min: range[0],
      max: range[1],
      axisLabel: { show: i === n - 1, hideOverlap: true, formatter: (v: number) => axisTimeLabel(v, locale, span) },
      axisTick: { show: i === n - 1 },
      splitLine: { show: false },
    })),
    yAxis: HISTORY_METRICS.map((m, i) => ({
      type: 'value',
      gridIndex: i,
      name: `${t(m.i18n)} (${m.unit})`,
      nameLocation: 'end',
      nameGap: 6,
      nameTextStyle: { align: 'left', padding: [0, 0, 0, -48] },
      scale: !m.range,
      min: m.range?.[0],
      max: m.range?.[1],
      splitNumber: 2,
      axisLabel: { formatter: (v: number) => formatNumber(v, locale, m.digits === 0 ? 0 : 1) },
    })),
    dataZoom: [{ type: 'inside', xAxisIndex: axisIdx, filterMode: 'none' }],
    series: series.flatMap(({ m, s }, i) => [
      {
        id: `low-${m.key}`,
        type: 'line',
        xAxisIndex: i,
        yAxisIndex: i,
        data: pair(s.t, s.hasBand ? s.low : s.t.map(() => null)),
        stack: `band-${m.key}`,
        stackStrategy: 'all',
        symbol: 'none',
        silent: true,
        lineStyle: { opacity: 0 },
        connectNulls: false,
      },
      {
        id: `band-${m.key}`,
        type: 'line',
        xAxisIndex: i,
        yAxisIndex: i,
        data: pair(
          s.t,
          s.t.map((_, k) => (s.hasBand && s.low[k] !== null && s.high[k] !== null ? (s.high[k] as number) - (s.low[k] as number) : null)),
        ),
        stack: `band-${m.key}`,
        stackStrategy: 'all',
        symbol: 'none',
        silent: true,
        lineStyle: { opacity: 0 },
        areaStyle: { color: m.colour, opacity: 0.18 },
        connectNulls: false,
      },
      {
        id: `mean-${m.key}`,
        name: t(m.i18n),
        type: 'line',
        xAxisIndex: i,
        yAxisIndex: i,
        data: pair(s.t, s.mean),
        showSymbol: s.t.length < 60,
        symbolSize: 4,
        lineStyle: { width: 1.5, color: m.colour },
        itemStyle: { color: m.colour },
        connectNulls: false,
      },
    ]),
  }
}

export interface UsageSummary {
  chargedKwh: number
  dischargedKwh: number
  /** Discharged / charged, % (null unless energy went both ways in the window). */
  efficiencyPct: number | null
  chargeSessions: number
  dischargeSessions: number
  /** Time the integration covered (gaps excluded), ms. */
  coveredMs: number
}

type Mode = 'charge' | 'discharge' | 'idle' | null

/** Energy in/out and sessions of the window, from the bucket means (positive current = discharge). */
export function usageFromHistory(points: readonly HistoryPoint[]): UsageSummary {
  const { step, gap } = stepAndGap(points)
  let charged = 0
  let discharged = 0
  let covered = 0
  let chargeSessions = 0
  let dischargeSessions = 0
  let previous: Mode = null
  points.forEach((p, i) => {
    const next = points[i + 1]
    // A bucket lasts until the next one; the last one and one before a silence last one typical
    // step (the silence itself — offline — counts nothing).
    const toNext = next ? next.startMs - p.startMs : Number.POSITIVE_INFINITY
    const dt = toNext <= gap ? toNext : step
    const current = p.avg.current_a ?? null
    const power = p.avg.power_kw ?? (p.avg.pack_voltage_v !== undefined && current !== null ? (p.avg.pack_voltage_v * current) / 1000 : null)
    if (power !== null && dt > 0) {
      const kwh = (power * dt) / HOUR_MS
      if (kwh > 0) discharged += kwh
      else charged -= kwh
      covered += dt
    }
    const mode: Mode =
      current === null ? null : current > CURRENT_DEAD_BAND_A ? 'discharge' : current < -CURRENT_DEAD_BAND_A ? 'charge' : 'idle'
    if (mode === 'discharge' && previous !== 'discharge') dischargeSessions++
    if (mode === 'charge' && previous !== 'charge') chargeSessions++
    if (mode !== null) previous = mode
    if (next && next.startMs - p.startMs > gap) previous = null
  })
  const round = (x: number) => Math.round(x * 1000) / 1000
  return {
    chargedKwh: round(charged),
    dischargedKwh: round(discharged),
    efficiencyPct: charged > 0 && discharged > 0 ? Math.round((discharged / charged) * 1000) / 10 : null,
    chargeSessions,
    dischargeSessions,
    coveredMs: covered,
  }
}
