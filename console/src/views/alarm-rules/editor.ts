/**
 * The rule editor's model (SLW-WEB-3, SLW-EW-5): number ranges and choices of every condition kind
 * (mirroring the pydantic contracts in shared/contracts/alarms.py, so most mistakes are caught
 * before the API refuses them), validation with localisable problems, and templates.
 */
import { RESERVED_CODES } from '@/locales/alarmCodes'
import type { Condition, DeviceKind, Rule } from './rules'

export const RULE_ID_RE = /^[a-z][a-z0-9_]{0,63}$/
export const DEVICE_KINDS: readonly DeviceKind[] = ['battery_pack', 'storage_cabinet']
export const LEVELS = [0, 1, 2, 3] as const
export const METRICS = [
  'pack_voltage_v',
  'current_a',
  'charge_current_a',
  'discharge_current_a',
  'soc_pct',
  'insulation_resistance_kohm',
  'cell_voltage_max_v',
  'cell_voltage_min_v',
  'cell_voltage_spread_v',
  'temperature_max_c',
  'temperature_min_c',
  'temperature_diff_c',
  'h2_ppm',
  'co_ppm',
  'module_pressure_kpa',
] as const
export const SIGNALS = ['smoke_detected', 'flame_detected', 'water_ingress', 'door_open'] as const
export const SERIES = ['cell_voltages_v', 'probe_temperatures_c'] as const
export const LIMITS = [
  'cell_voltage_min_v',
  'cell_voltage_max_v',
  'pack_voltage_min_v',
  'pack_voltage_max_v',
  'temperature_min_c',
  'max_operating_temperature_c',
  'max_charge_current_a',
  'max_discharge_current_a',
] as const
export const COMPARISONS = ['gt', 'ge', 'lt', 'le'] as const
export const COMMANDS = [
  'cut_off',
  'stop_charge',
  'stop_discharge',
  'set_reporting_interval',
  'restart',
  'fault_reset',
  'set_parameters',
] as const
export const CONDITION_TYPES = ['threshold', 'signal', 'gb_alarm', 'rate', 'jump', 'drop', 'consistency', 'silence', 'all', 'any'] as const
export type ConditionType = (typeof CONDITION_TYPES)[number]
/** Kinds the structured editor covers; `all`/`any` are edited as JSON. */
export const STRUCTURED: readonly ConditionType[] = ['threshold', 'signal', 'gb_alarm', 'rate', 'jump', 'drop', 'consistency', 'silence']

/** Units of metrics and series (shared/domain/alarms/evaluation/view.py). */
export const METRIC_UNITS: Record<string, string> = {
  pack_voltage_v: 'V',
  current_a: 'A',
  charge_current_a: 'A',
  discharge_current_a: 'A',
  soc_pct: '%',
  insulation_resistance_kohm: 'kΩ',
  cell_voltage_max_v: 'V',
  cell_voltage_min_v: 'V',
  cell_voltage_spread_v: 'V',
  temperature_max_c: '°C',
  temperature_min_c: '°C',
  temperature_diff_c: '°C',
  h2_ppm: 'ppm',
  co_ppm: 'ppm',
  module_pressure_kpa: 'kPa',
  cell_voltages_v: 'V',
  probe_temperatures_c: '°C',
}
export const LIMIT_UNITS: Record<string, string> = {
  cell_voltage_min_v: 'V',
  cell_voltage_max_v: 'V',
  pack_voltage_min_v: 'V',
  pack_voltage_max_v: 'V',
  temperature_min_c: '°C',
  max_operating_temperature_c: '°C',
  max_charge_current_a: 'A',
  max_discharge_current_a: 'A',
}

export interface NumSpec {
  min?: number
  max?: number
  /** Strict bounds (`gt`/`lt` in the contract). */
  gt?: number
  lt?: number
  step: number
  int?: boolean
  /** May be null (e.g. a threshold's value when a limit is used). */
  nullable?: boolean
  /** No default in the contract: must be given. */
  required?: boolean
}

const DURATION: NumSpec = { min: 0, max: 86400, step: 1 }
/** Numeric fields of each condition kind. */
export const NUM_SPECS: Record<string, Record<string, NumSpec>> = {
  threshold: { value: { step: 0.01, nullable: true }, hysteresis: { min: 0, step: 0.01 }, for_s: DURATION, clear_for_s: DURATION },
  signal: { for_s: DURATION, clear_for_s: DURATION },
  gb_alarm: { min_level: { min: 1, max: 3, step: 1, int: true, nullable: true } },
  rate: { rate_per_s: { step: 0.1, required: true }, sustained_s: { min: 0, max: 3600, step: 1 }, max_gap_s: { gt: 0, max: 3600, step: 1 } },
  jump: { min_delta: { gt: 0, step: 0.1, required: true }, max_interval_s: { gt: 0, max: 86400, step: 1 }, clear_after_s: DURATION },
  drop: { fraction: { gt: 0, lt: 1, step: 0.01, required: true }, reference_window_s: { gt: 0, max: 3600, step: 1 } },
  consistency: {
    deviation: { gt: 0, step: 0.01, required: true },
    hysteresis: { min: 0, step: 0.01 },
    min_valid: { min: 2, step: 1, int: true },
    for_s: DURATION,
  },
  silence: { after_s: { min: 30, max: 7 * 86400, step: 10, required: true } },
}
export const LIMIT_REF_SPECS: Record<'factor' | 'offset', NumSpec> = {
  factor: { gt: 0, max: 10, step: 0.01 },
  offset: { min: -10000, max: 10000, step: 0.1 },
}
export const ACTION_SPECS: Record<'ttl_s' | 'ack_timeout_s', NumSpec> = {
  ttl_s: { min: 5, max: 3600, step: 1, int: true },
  ack_timeout_s: { min: 1, max: 3600, step: 1, int: true },
}

export interface Problem {
  /** Where, e.g. `condition.for_s`, `actions[0].ttl_s`. */
  path: string
  code:
    | 'required'
    | 'number'
    | 'range'
    | 'int'
    | 'ruleId'
    | 'reserved'
    | 'duplicate'
    | 'kinds'
    | 'kindMismatch'
    | 'valueOrLimit'
    | 'metricOrSeries'
    | 'bitsOrLevel'
    | 'bits'
    | 'choice'
    | 'tooMany'
    | 'params'
  params?: Record<string, string | number>
}

function rangeText(s: NumSpec): string {
  const lo = s.gt !== undefined ? `> ${s.gt}` : s.min !== undefined ? `≥ ${s.min}` : ''
  const hi = s.lt !== undefined ? `< ${s.lt}` : s.max !== undefined ? `≤ ${s.max}` : ''
  return [lo, hi].filter(Boolean).join(', ')
}

export function checkNumber(v: unknown, s: NumSpec, path: string): Problem[] {
  if (v === null || v === undefined) return s.nullable ? [] : [{ path, code: 'required' }]
  if (typeof v !== 'number' || !Number.isFinite(v)) return [{ path, code: 'number' }]
  if (s.int && !Number.isInteger(v)) return [{ path, code: 'int' }]
  const bad =
    (s.min !== undefined && v < s.min) ||
    (s.max !== undefined && v > s.max) ||
    (s.gt !== undefined && v <= s.gt) ||
    (s.lt !== undefined && v >= s.lt)
  return bad ? [{ path, code: 'range', params: { range: rangeText(s) } }] : []
}

function choice(v: unknown, options: readonly string[], path: string): Problem[] {
  return typeof v === 'string' && options.includes(v) ? [] : [{ path, code: 'choice' }]
}

type AnyCondition = Record<string, unknown> & { type?: unknown }

/** Problems of a condition (recursively for all/any). */
export function validateCondition(c: unknown, path = 'condition'): Problem[] {
  if (!c || typeof c !== 'object' || Array.isArray(c)) return [{ path, code: 'required' }]
  const cond = c as AnyCondition
  const type = cond.type
  if (typeof type !== 'string' || !(CONDITION_TYPES as readonly string[]).includes(type)) return [{ path: `${path}.type`, code: 'choice' }]
  const out: Problem[] = []
  for (const [k, spec] of Object.entries(NUM_SPECS[type] ?? {})) {
    if (cond[k] === undefined) {
      // Fields with a default may be left out (the API fills them in).
      if (spec.required) out.push({ path: `${path}.${k}`, code: 'required' })
      continue
    }
    out.push(...checkNumber(cond[k], spec, `${path}.${k}`))
  }
  switch (type) {
    case 'threshold': {
      out.push(...choice(cond.metric, METRICS, `${path}.metric`), ...choice(cond.op, COMPARISONS, `${path}.op`))
      const hasValue = cond.value !== null && cond.value !== undefined
      const limit = cond.limit as Record<string, unknown> | null | undefined
      if (hasValue === Boolean(limit)) out.push({ path: `${path}.value`, code: 'valueOrLimit' })
      if (limit) {
        out.push(...choice(limit.limit, LIMITS, `${path}.limit.limit`))
        if ('factor' in limit) out.push(...checkNumber(limit.factor, LIMIT_REF_SPECS.factor, `${path}.limit.factor`))
        if ('offset' in limit) out.push(...checkNumber(limit.offset, LIMIT_REF_SPECS.offset, `${path}.limit.offset`))
      }
      break
    }
    case 'signal':
      out.push(...choice(cond.signal, SIGNALS, `${path}.signal`))
      break
    case 'gb_alarm': {
      const bits = (cond.bits ?? []) as unknown
      if (!Array.isArray(bits) || bits.length > 32 || bits.some((b) => !Number.isInteger(b) || b < 0 || b > 31)) {
        out.push({ path: `${path}.bits`, code: 'bits' })
      } else if (!bits.length && (cond.min_level === null || cond.min_level === undefined)) {
        out.push({ path: `${path}.bits`, code: 'bitsOrLevel' })
      }
      break
    }
    case 'rate': {
      const hasMetric = cond.metric !== null && cond.metric !== undefined
      const hasSeries = cond.series !== null && cond.series !== undefined
      if (hasMetric === hasSeries) out.push({ path: `${path}.metric`, code: 'metricOrSeries' })
      else if (hasMetric) out.push(...choice(cond.metric, METRICS, `${path}.metric`))
      else out.push(...choice(cond.series, SERIES, `${path}.series`))
      if ('op' in cond) out.push(...choice(cond.op, ['ge', 'le'], `${path}.op`))
      break
    }
    case 'jump':
      out.push(...choice(cond.metric, METRICS, `${path}.metric`))
      break
    case 'drop':
      if ('series' in cond) out.push(...choice(cond.series, SERIES, `${path}.series`))
      break
    case 'consistency':
      out.push(...choice(cond.series, SERIES, `${path}.series`))
      break
    case 'all':
    case 'any': {
      const subs = cond.conditions
      if (!Array.isArray(subs) || subs.length < 1) out.push({ path: `${path}.conditions`, code: 'required' })
      else if (subs.length > 16) out.push({ path: `${path}.conditions`, code: 'tooMany', params: { n: 16 } })
      else subs.forEach((s, i) => out.push(...validateCondition(s, `${path}.conditions[${i}]`)))
      break
    }
  }
  return out
}

function validateActions(list: unknown, path: string): Problem[] {
  if (list === undefined) return []
  if (!Array.isArray(list)) return [{ path, code: 'required' }]
  if (list.length > 8) return [{ path, code: 'tooMany', params: { n: 8 } }]
  const out: Problem[] = []
  list.forEach((a: Record<string, unknown>, i) => {
    const p = `${path}[${i}]`
    out.push(...choice(a?.command, COMMANDS, `${p}.command`))
    if (a && 'ttl_s' in a) out.push(...checkNumber(a.ttl_s, ACTION_SPECS.ttl_s, `${p}.ttl_s`))
    if (a && 'ack_timeout_s' in a) out.push(...checkNumber(a.ack_timeout_s, ACTION_SPECS.ack_timeout_s, `${p}.ack_timeout_s`))
    const params = a?.params
    if (
      params !== undefined &&
      (typeof params !== 'object' ||
        params === null ||
        Array.isArray(params) ||
        Object.values(params).some((v) => !['string', 'number', 'boolean'].includes(typeof v)))
    ) {
      out.push({ path: `${p}.params`, code: 'params' })
    }
  })
  return out
}

export interface RuleContext {
  /** Rule ids already defined in the draft (for a new rule: must not clash). */
  existingIds?: readonly string[]
  isNew?: boolean
  /** The device's kind when editing a device scope (the rule must apply to it). */
  deviceKind?: DeviceKind | null
}

/** Every problem of a rule, with paths the editor shows next to its fields. */
export function validateRule(rule: Rule, ctx: RuleContext = {}): Problem[] {
  const out: Problem[] = []
  if (!RULE_ID_RE.test(rule.rule_id ?? '')) out.push({ path: 'rule_id', code: 'ruleId' })
  else if ((RESERVED_CODES as readonly string[]).includes(rule.rule_id)) out.push({ path: 'rule_id', code: 'reserved' })
  else if (ctx.isNew && ctx.existingIds?.includes(rule.rule_id)) out.push({ path: 'rule_id', code: 'duplicate' })
  if (!Array.isArray(rule.kinds) || !rule.kinds.length || rule.kinds.some((k) => !DEVICE_KINDS.includes(k))) {
    out.push({ path: 'kinds', code: 'kinds' })
  } else if (ctx.deviceKind && !rule.kinds.includes(ctx.deviceKind)) {
    out.push({ path: 'kinds', code: 'kindMismatch', params: { kind: ctx.deviceKind } })
  }
  if (!(LEVELS as readonly number[]).includes(rule.level)) out.push({ path: 'level', code: 'choice' })
  out.push(...validateCondition(rule.condition))
  out.push(...validateActions(rule.actions, 'actions'), ...validateActions(rule.clear_actions, 'clear_actions'))
  return out
}

/** A fresh condition of a kind, with the contract's defaults. */
export function conditionTemplate(type: ConditionType): Condition {
  switch (type) {
    case 'threshold':
      return { type, metric: 'temperature_max_c', op: 'ge', value: 50, limit: null, hysteresis: 2, for_s: 30, clear_for_s: 60 }
    case 'signal':
      return { type, signal: 'smoke_detected', for_s: 2, clear_for_s: 0 }
    case 'gb_alarm':
      return { type, bits: [], min_level: 3 }
    case 'rate':
      return { type, metric: null, series: 'probe_temperatures_c', op: 'ge', rate_per_s: 1, sustained_s: 3, max_gap_s: 5 }
    case 'jump':
      return { type, metric: 'soc_pct', min_delta: 10, max_interval_s: 60, clear_after_s: 300 }
    case 'drop':
      return { type, series: 'cell_voltages_v', fraction: 0.25, reference_window_s: 60 }
    case 'consistency':
      return { type, series: 'cell_voltages_v', deviation: 0.15, hysteresis: 0.03, min_valid: 4, for_s: 60 }
    case 'silence':
      return { type, after_s: 300 }
    case 'all':
    case 'any':
      return { type, conditions: [conditionTemplate('threshold') as never] }
  }
}

export function newRule(kinds: readonly DeviceKind[]): Rule {
  return {
    rule_id: '',
    kinds: [...kinds],
    level: 1,
    enabled: true,
    auto_clear: true,
    actions: [],
    clear_actions: [],
    condition: conditionTemplate('threshold'),
  }
}

export type JsonParse<T> = { ok: true; value: T } | { ok: false; error: string }

/** Parse the raw JSON editor's text. */
export function parseJson<T>(text: string): JsonParse<T> {
  try {
    return { ok: true, value: JSON.parse(text) as T }
  } catch (e) {
    return { ok: false, error: (e as Error).message }
  }
}

/** A protective action's params as `k=v, …` text, and back. */
export function paramsText(params: Record<string, string | number | boolean> | undefined): string {
  return Object.entries(params ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')
}

export function parseParamsText(text: string): Record<string, string | number | boolean> | null {
  const out: Record<string, string | number | boolean> = {}
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$/.exec(part)
    if (!m) return null
    const raw = m[2].trim()
    out[m[1]] = raw === 'true' ? true : raw === 'false' ? false : /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw
  }
  return out
}
