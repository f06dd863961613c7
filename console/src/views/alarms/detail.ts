/**
 * The values behind an alarm (LCM-AL-3, LCM-PF-5, SLW-WEB-6): its params as labelled, localised
 * rows and the trigger samples (device time with milliseconds, the values seen), plus the fault
 * classification and advice of device fault reports.
 */
import type { Schemas } from '@/api/client'
import { codeName, num, opSymbol, type ParamValue, type Translator } from '@/alarms/text'

type Alarm = Schemas['Alarm']

export interface ParamRow {
  key: string
  label: string
  value: string
}

/** Params whose value is a code with a localised name, and the sub-tree it lives in. */
const CODED: Record<string, string> = {
  metric: 'metric',
  rate_source: 'metric',
  signal: 'signal',
  series: 'series',
  classification: 'classification',
}

/** Params that only make sense next to another (their unit is folded into the value). */
const UNIT_KEYS = new Set(['unit', 'rate_unit', 'drop_unit'])
const UNIT_OF: Record<string, string> = {
  value: 'unit',
  threshold: 'unit',
  clear_threshold: 'unit',
  median: 'unit',
  deviation: 'unit',
  previous: 'unit',
  delta: 'unit',
  min_delta: 'unit',
  rate_per_s: 'rate_unit',
  rate_threshold: 'rate_unit',
  drop_value: 'drop_unit',
  drop_reference: 'drop_unit',
}

/** The label of a param; suffixed keys of combinations (`probe_1_2`) use their base label. */
export function paramLabel(tr: Translator, key: string): string {
  if (tr.te(`alarm.param.${key}`)) return tr.t(`alarm.param.${key}`)
  const m = /^(.+?)_(\d+(?:_\d+)*)$/.exec(key)
  if (m && tr.te(`alarm.param.${m[1]}`)) return `${tr.t(`alarm.param.${m[1]}`)} (${m[2].replace(/_/g, '.')})`
  return key
}

function baseKey(key: string): string {
  const m = /^(.+?)_(\d+(?:_\d+)*)$/.exec(key)
  return m && !(key in UNIT_OF) && !(key in CODED) ? m[1] : key
}

export function paramValue(
  tr: Translator,
  key: string,
  value: ParamValue,
  params: Record<string, ParamValue>,
  formatTime: (ms: number) => string,
): string {
  const base = baseKey(key)
  if (value === null) return '—'
  if (typeof value === 'boolean') return tr.t(value ? 'common.yes' : 'common.no')
  if (base === 'op' || base === 'rate_op') return opSymbol(value)
  if (base === 'advice' && typeof value === 'string') {
    return tr.te(`alarm.${value}`) ? tr.t(`alarm.${value}`) : value
  }
  if (base in CODED) return codeName(tr, CODED[base], value)
  if (base === 'last_arrival_ms' && typeof value === 'number') return formatTime(value)
  if (typeof value === 'number') {
    const unitKey = UNIT_OF[base]
    const unit = unitKey ? (params[unitKey] ?? params[`${unitKey}${key.slice(base.length)}`]) : undefined
    return typeof unit === 'string' && unit ? `${num(value)}${unit === '%' ? '' : ' '}${unit}` : num(value)
  }
  return String(value)
}

/** Labelled rows of the params (units folded into their values). */
export function paramRows(
  tr: Translator,
  params: Record<string, ParamValue> | undefined,
  formatTime: (ms: number) => string,
): ParamRow[] {
  const p = params ?? {}
  return Object.keys(p)
    .filter((k) => !UNIT_KEYS.has(baseKey(k)))
    .map((k) => ({ key: k, label: paramLabel(tr, k), value: paramValue(tr, k, p[k], p, formatTime) }))
}

export interface TriggerTable {
  columns: { key: string; label: string }[]
  rows: { key: string; atMs: number; values: Record<string, string> }[]
}

/**
 * The trigger samples as one table: a column per value name seen in any sample. With several
 * samples, columns that never change (metric, threshold, …: already in the params) are left out.
 */
export function triggerTable(
  tr: Translator,
  trigger: Alarm['trigger'],
  formatTime: (ms: number) => string,
): TriggerTable {
  const samples = trigger ?? []
  const keys: string[] = []
  for (const s of samples) for (const k of Object.keys(s.values ?? {})) if (!keys.includes(k) && !UNIT_KEYS.has(baseKey(k))) keys.push(k)
  const rows = samples.map((s, i) => {
    const v = s.values ?? {}
    return {
      key: `${s.message_key}:${i}`,
      atMs: s.device_ts_ms,
      values: Object.fromEntries(keys.map((k) => [k, k in v ? paramValue(tr, k, v[k], v, formatTime) : ''])),
    }
  })
  const varying = rows.length < 2 ? keys : keys.filter((k) => rows.some((r) => r.values[k] !== rows[0].values[k]))
  return { columns: varying.map((k) => ({ key: k, label: paramLabel(tr, k) })), rows }
}

/** Which actions apply to an alarm in its current state. */
export function allowedActions(a: Pick<Alarm, 'status'>): { ack: boolean; clear: boolean; assign: boolean; comment: boolean } {
  return {
    ack: a.status === 'active',
    clear: a.status !== 'cleared',
    assign: a.status !== 'cleared',
    comment: true,
  }
}
