/**
 * A rule's condition and actions in one readable line (SLW-WEB-3, LCM-UI-1), e.g.
 * "最高单体电压 > 单体电压上限 × 1.05（= 3.83 V），持续 2 秒", with limits resolved against the
 * device model when it is known.
 */
import type { Schemas } from '@/api/client'
import { codeName, num, opSymbol, type Translator } from '@/alarms/text'
import { LIMIT_UNITS, METRIC_UNITS } from './editor'
import type { Condition, Rule } from './rules'

type Limits = Schemas['ModelLimits']
type Action = Schemas['ProtectiveAction']

function sec(tr: Translator, s: unknown): string {
  return tr.t('alarmRules.cond.seconds', { n: num(typeof s === 'number' ? s : 0) })
}

function unitOf(metricOrSeries: unknown): string {
  return typeof metricOrSeries === 'string' ? (METRIC_UNITS[metricOrSeries] ?? '') : ''
}

function withUnit(v: unknown, unit: string): string {
  return unit ? `${num(v)}${unit === '%' ? '' : ' '}${unit}` : num(v)
}

/** A LimitRef as "单体电压上限 × 1.05 + 0"; with the model's limits also its value. */
export function limitText(
  tr: Translator,
  ref: { limit: string; factor?: number; offset?: number },
  limits?: Limits | null,
): string {
  const factor = ref.factor ?? 1
  const offset = ref.offset ?? 0
  let s = codeName(tr, 'limit', ref.limit)
  if (factor !== 1) s += ` × ${num(factor)}`
  if (offset) s += offset > 0 ? ` + ${num(offset)}` : ` − ${num(-offset)}`
  const base = limits ? (limits as Record<string, number>)[ref.limit] : undefined
  if (typeof base === 'number') s += tr.t('alarmRules.cond.equals', { value: withUnit(base * factor + offset, LIMIT_UNITS[ref.limit] ?? '') })
  return s
}

export function conditionSummary(tr: Translator, c: Condition | Record<string, unknown>, limits?: Limits | null): string {
  const k = c as Record<string, unknown>
  const tail = (forS: unknown) => (typeof forS === 'number' && forS > 0 ? tr.t('alarmRules.cond.for', { d: sec(tr, forS) }) : '')
  switch (k.type) {
    case 'threshold': {
      const unit = unitOf(k.metric)
      const ref =
        k.limit && typeof k.limit === 'object'
          ? limitText(tr, k.limit as { limit: string; factor?: number; offset?: number }, limits)
          : withUnit(k.value, unit)
      let s = `${codeName(tr, 'metric', k.metric)} ${opSymbol(k.op)} ${ref}${tail(k.for_s)}`
      if (typeof k.hysteresis === 'number' && k.hysteresis > 0) s += tr.t('alarmRules.cond.hysteresis', { h: withUnit(k.hysteresis, unit) })
      return s
    }
    case 'signal':
      return tr.t('alarmRules.cond.signal', { signal: codeName(tr, 'signal', k.signal) }) + tail(k.for_s)
    case 'gb_alarm': {
      const parts: string[] = []
      if (Array.isArray(k.bits) && k.bits.length) parts.push(tr.t('alarmRules.cond.gbBits', { bits: k.bits.join(', ') }))
      if (typeof k.min_level === 'number') parts.push(tr.t('alarmRules.cond.gbLevel', { level: k.min_level }))
      return parts.join(tr.t('alarmRules.cond.or'))
    }
    case 'rate': {
      const src = k.series ?? k.metric
      const tree = k.series ? 'series' : 'metric'
      return tr.t('alarmRules.cond.rate', {
        source: codeName(tr, tree, src),
        op: opSymbol(k.op ?? 'ge'),
        rate: withUnit(k.rate_per_s, unitOf(src) ? `${unitOf(src)}/s` : '/s'),
        d: sec(tr, k.sustained_s),
      })
    }
    case 'jump':
      return tr.t('alarmRules.cond.jump', {
        metric: codeName(tr, 'metric', k.metric),
        delta: withUnit(k.min_delta, unitOf(k.metric)),
        d: sec(tr, k.max_interval_s ?? 60),
      })
    case 'drop':
      return tr.t('alarmRules.cond.drop', {
        series: codeName(tr, 'series', k.series ?? 'cell_voltages_v'),
        pct: num(typeof k.fraction === 'number' ? k.fraction * 100 : 0),
        d: sec(tr, k.reference_window_s ?? 60),
      })
    case 'consistency':
      return (
        tr.t('alarmRules.cond.consistency', {
          series: codeName(tr, 'series', k.series),
          deviation: withUnit(k.deviation, unitOf(k.series)),
        }) + tail(k.for_s)
      )
    case 'silence':
      return tr.t('alarmRules.cond.silence', { d: sec(tr, k.after_s) })
    case 'all':
    case 'any': {
      const subs = Array.isArray(k.conditions) ? (k.conditions as Condition[]) : []
      const joiner = tr.t(k.type === 'all' ? 'alarmRules.cond.and' : 'alarmRules.cond.or')
      return subs.map((s) => (['all', 'any'].includes(s.type) ? `(${conditionSummary(tr, s, limits)})` : conditionSummary(tr, s, limits))).join(joiner)
    }
    default:
      return String(k.type ?? '')
  }
}

export function actionText(tr: Translator, a: Action): string {
  const name = codeName(tr, 'command', a.command)
  const params = Object.entries(a.params ?? {})
  return params.length ? `${name} (${params.map(([p, v]) => `${p}=${v}`).join(', ')})` : name
}

export function actionsSummary(tr: Translator, rule: Pick<Rule, 'actions' | 'clear_actions'>): string {
  const on = (rule.actions ?? []).map((a) => actionText(tr, a))
  const off = (rule.clear_actions ?? []).map((a) => actionText(tr, a))
  const parts: string[] = []
  if (on.length) parts.push(on.join(tr.t('alarmRules.cond.listSep')))
  if (off.length) parts.push(tr.t('alarmRules.cond.onClear', { actions: off.join(tr.t('alarmRules.cond.listSep')) }))
  return parts.join(tr.t('alarmRules.cond.sep')) || '—'
}
