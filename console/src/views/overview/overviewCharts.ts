/**
 * The fleet overview's figures and chart options (LCM-MON-4, SLW-WEB-4) from
 * `GET /v1/fleet/overview`: KPI cards, devices per kind × status, open alarms per level and
 * alarms raised per hour. Every level and every status is always present (a missing key is
 * zero), so the charts' series never change shape between refreshes.
 */
import type { LocationQueryRaw } from 'vue-router'
import type { Schemas } from '@/api/client'
import type { EChartsOption } from '@/charts/echarts'
import { currentTimeZone, formatNumber, LEVEL_COLOURS, STATUS_COLOURS } from '@/format'
import type { Translate } from '@/views/devices/translate'

export type FleetOverview = Schemas['FleetOverview']
export type AlarmTrend = Schemas['AlarmTrend']

export const LEVEL_KEYS = ['0', '1', '2', '3'] as const
export type LevelKey = (typeof LEVEL_KEYS)[number]
export const STATUS_KEYS = ['charging', 'discharging', 'idle', 'fault', 'offline', 'inactive'] as const
export const KIND_KEYS = ['battery_pack', 'storage_cabinet'] as const
export const TREND_HOURS = [24, 72, 168] as const
export type TrendHours = (typeof TREND_HOURS)[number]

export type KpiTone = 'neutral' | 'good' | 'info' | 'warning' | 'danger' | 'critical'

export interface Kpi {
  key: string
  /** i18n key of the label. */
  label: string
  value: number
  tone: KpiTone
  /** Where a click leads (the filtered device list or the alarm centre). */
  to: { name: string; query?: LocationQueryRaw }
}

const n = (r: Record<string, number> | undefined, k: string): number => r?.[k] ?? 0

/**
 * The cards: devices (total, online, per status) and alarms (open, level 3, unacknowledged).
 * Links use the device list's and the alarm centre's URL filters (views/alarms/filters.ts:
 * status open|active|…, level, thing, alarm).
 */
export function kpis(o: FleetOverview): Kpi[] {
  const s = o.devices.by_status
  const level3 = n(o.alarms.active_by_level, '3')
  return [
    { key: 'total', label: 'overview.kpi.total', value: o.devices.total, tone: 'neutral', to: { name: 'devices' } },
    { key: 'online', label: 'overview.kpi.online', value: o.devices.online, tone: 'good', to: { name: 'devices', query: { status: 'charging,discharging,idle,fault' } } },
    { key: 'charging', label: 'status.charging', value: n(s, 'charging'), tone: 'info', to: { name: 'devices', query: { status: 'charging' } } },
    { key: 'discharging', label: 'status.discharging', value: n(s, 'discharging'), tone: 'good', to: { name: 'devices', query: { status: 'discharging' } } },
    { key: 'fault', label: 'status.fault', value: n(s, 'fault'), tone: n(s, 'fault') ? 'danger' : 'neutral', to: { name: 'devices', query: { status: 'fault' } } },
    { key: 'offline', label: 'status.offline', value: n(s, 'offline'), tone: n(s, 'offline') ? 'warning' : 'neutral', to: { name: 'devices', query: { status: 'offline' } } },
    {
      key: 'alarms',
      label: 'overview.kpi.activeAlarms',
      value: o.alarms.active_total,
      tone: o.alarms.active_total ? 'warning' : 'neutral',
      to: { name: 'alarms' },
    },
    { key: 'level3', label: 'overview.kpi.level3', value: level3, tone: level3 ? 'critical' : 'neutral', to: { name: 'alarms', query: { level: '3' } } },
    {
      key: 'unacknowledged',
      label: 'overview.kpi.unacknowledged',
      value: o.alarms.unacknowledged,
      tone: o.alarms.unacknowledged ? 'warning' : 'neutral',
      to: { name: 'alarms', query: { status: 'active' } },
    },
  ]
}

/** Kinds shown: the two the API knows, plus any it adds later that has devices. */
export function kindsOf(o: FleetOverview): string[] {
  const extra = Object.keys(o.devices.by_kind_status ?? {}).filter((k) => !(KIND_KEYS as readonly string[]).includes(k))
  return [...KIND_KEYS, ...extra.filter((k) => n(o.devices.by_kind, k) > 0)]
}

const kindLabel = (t: Translate, k: string) => t(`kind.${k}`)

/** Horizontal stacked bars: one bar per kind, one segment per status (status colours). */
export function kindStatusOption(o: FleetOverview, t: Translate, locale: string): EChartsOption {
  const kinds = kindsOf(o)
  return {
    animation: false,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true },
    legend: { bottom: 0, type: 'scroll' },
    grid: { left: 8, right: 16, top: 8, bottom: 36, containLabel: true },
    xAxis: { type: 'value', minInterval: 1, axisLabel: { formatter: (v: number) => formatNumber(v, locale) } },
    yAxis: { type: 'category', data: kinds.map((k) => kindLabel(t, k)), inverse: true },
    series: STATUS_KEYS.map((s) => ({
      id: s,
      name: t(`status.${s}`),
      type: 'bar',
      stack: 'devices',
      barMaxWidth: 36,
      itemStyle: { color: STATUS_COLOURS[s] },
      emphasis: { focus: 'series' },
      label: { show: true, formatter: (p: { value: number }) => (p.value ? formatNumber(p.value, locale) : '') },
      data: kinds.map((k) => n(o.devices.by_kind_status?.[k], s)),
    })),
  }
}

/** Open alarms per level as a donut (level colours; a zero level stays in the legend). */
export function levelDonutOption(o: FleetOverview, t: Translate, locale: string): EChartsOption {
  const total = o.alarms.active_total
  return {
    animation: false,
    tooltip: { trigger: 'item', confine: true, formatter: '{b}: {c} ({d}%)' },
    title: {
      text: formatNumber(total, locale),
      subtext: t('overview.alarms.open'),
      left: 'center',
      top: '34%',
      textStyle: { fontSize: 24, fontWeight: 600 },
      subtextStyle: { fontSize: 12 },
    },
    legend: { bottom: 0, type: 'scroll', data: LEVEL_KEYS.map((k) => t(`level.${k}`)) },
    series: [
      {
        // A quiet fleet: an empty grey ring, not four equal slices of nothing.
        id: 'empty',
        type: 'pie',
        radius: ['48%', '70%'],
        center: ['50%', '44%'],
        silent: true,
        label: { show: false },
        tooltip: { show: false },
        itemStyle: { color: '#ebeef5' },
        data: total === 0 ? [{ name: '', value: 1 }] : [],
      },
      {
        id: 'levels',
        type: 'pie',
        radius: ['48%', '70%'],
        center: ['50%', '44%'],
        avoidLabelOverlap: true,
        stillShowZeroSum: false,
        label: { show: false },
        data: LEVEL_KEYS.map((k) => ({
          name: t(`level.${k}`),
          value: n(o.alarms.active_by_level, k),
          itemStyle: { color: LEVEL_COLOURS[Number(k)] },
        })),
      },
    ],
  }
}

export interface TrendSeries {
  starts: number[]
  byLevel: Record<LevelKey, number[]>
  total: number
}

/** Buckets → one array per level (all four always, zeros where the API had no key). */
export function trendSeries(trend: AlarmTrend): TrendSeries {
  const buckets = [...trend.buckets].sort((a, b) => a.start_ms - b.start_ms)
  const byLevel = Object.fromEntries(LEVEL_KEYS.map((k) => [k, buckets.map((b) => n(b.by_level, k))])) as Record<LevelKey, number[]>
  const total = LEVEL_KEYS.reduce((acc, k) => acc + byLevel[k].reduce((a, b) => a + b, 0), 0)
  return { starts: buckets.map((b) => b.start_ms), byLevel, total }
}

/** An hour bucket's label in the console's time zone (with the date when the window spans days). */
export function hourLabel(ms: number, locale: string, withDate: boolean): string {
  return new Intl.DateTimeFormat(locale, {
    timeZone: currentTimeZone(),
    month: withDate ? '2-digit' : undefined,
    day: withDate ? '2-digit' : undefined,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(ms))
}

/** Alarms raised per hour, stacked by level. */
export function trendOption(trend: AlarmTrend, t: Translate, locale: string): EChartsOption {
  const s = trendSeries(trend)
  const withDate = s.starts.length > 24
  return {
    animation: false,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true },
    legend: { bottom: 0, type: 'scroll' },
    grid: { left: 8, right: 16, top: 16, bottom: 40, containLabel: true },
    xAxis: {
      type: 'category',
      data: s.starts.map((ms) => hourLabel(ms, locale, withDate)),
      axisLabel: { hideOverlap: true },
      axisTick: { alignWithLabel: true },
    },
    yAxis: { type: 'value', minInterval: 1 },
    dataZoom: [{ type: 'inside', disabled: s.starts.length <= 72 }],
    series: LEVEL_KEYS.map((k) => ({
      id: `level-${k}`,
      name: t(`level.${k}`),
      type: 'bar',
      stack: 'raised',
      barMaxWidth: 24,
      itemStyle: { color: LEVEL_COLOURS[Number(k)] },
      data: s.byLevel[k],
    })),
  }
}
