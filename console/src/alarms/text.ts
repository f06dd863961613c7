/**
 * Alarm texts are never sentences on the wire: an alarm carries a message code (`code`, the rule
 * id or `fault_<code>` for a device fault report) and params; the console renders them in the
 * reader's language from `src/locales/alarmCodes.ts` (key `alarm.<code>`), falling back to the code
 * itself so a new rule never breaks a page.
 *
 * `alarmText` gives one line: the title plus the most telling values, e.g.
 * "单体过压（电芯 #7，3.71 V，阈值 > 3.65 V）". Owned by the alarm-centre pages; other pages only
 * call `alarmText` (and may use `alarmTitle` / `alarmDetail`).
 */
import type { Composer } from 'vue-i18n'

type T = Composer['t']
type Te = Composer['te']
type Named = Record<string, unknown>
export type ParamValue = string | number | boolean | null
export type Params = Record<string, ParamValue>

export interface AlarmLike {
  code: string
  params?: Params
}

/** Minimal translator surface, so the pure helpers run in tests with a fake. */
export interface Translator {
  t: (key: string, named?: Named) => string
  te: (key: string) => boolean
}

export const FAULT_PREFIX = 'fault_'
const OPS: Record<string, string> = { gt: '>', ge: '≥', lt: '<', le: '≤' }

export function opSymbol(op: unknown): string {
  return typeof op === 'string' ? (OPS[op] ?? op) : ''
}

/** A number as operators read it: at most 3 decimals, no float noise (3.7100000001 → 3.71). */
export function num(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return v === null || v === undefined ? '—' : String(v)
  return String(Number(v.toFixed(Math.abs(v) >= 100 ? 1 : 3)))
}

function withUnit(v: unknown, unit: unknown): string {
  const u = typeof unit === 'string' && unit ? (unit === '%' ? '%' : ` ${unit}`) : ''
  return `${num(v)}${u}`
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}

/** Seconds as "45 秒" / "5 min" / "2 h". */
export function duration(tr: Translator, seconds: number): string {
  if (seconds < 120) return tr.t('alarm.detail.seconds', { n: num(Math.round(seconds * 10) / 10) })
  if (seconds < 7200) return tr.t('alarm.detail.minutes', { n: num(Math.round(seconds / 6) / 10) })
  return tr.t('alarm.detail.hours', { n: num(Math.round(seconds / 360) / 10) })
}

/** Localised name of a code in a sub-tree (`alarm.metric.h2_ppm`), or the code itself. */
export function codeName(tr: Translator, tree: string, code: unknown): string {
  if (code === null || code === undefined || code === '') return '—'
  const key = `alarm.${tree}.${String(code)}`
  return tr.te(key) ? tr.t(key) : String(code)
}

export function isFault(alarm: AlarmLike): boolean {
  return alarm.code.startsWith(FAULT_PREFIX) && typeof alarm.params?.fault_code === 'string'
}

/** The title: the rule's name, a device fault with its class and code, or the code itself. */
export function alarmTitleOf(tr: Translator, alarm: AlarmLike): string {
  const p = alarm.params ?? {}
  if (isFault(alarm)) {
    return tr.t('alarm.detail.fault', {
      classification: codeName(tr, 'classification', p.classification ?? 'other'),
      code: String(p.fault_code),
    })
  }
  const key = `alarm.${alarm.code}`
  return tr.te(key) ? tr.t(key) : alarm.code
}

/** Advice of a fault alarm (`advice.check_link` → its text), or null. */
export function adviceOf(tr: Translator, alarm: AlarmLike): string | null {
  const advice = alarm.params?.advice
  if (typeof advice !== 'string' || !advice) return null
  const key = `alarm.${advice}`
  return tr.te(key) ? tr.t(key) : advice
}

/**
 * The values behind an alarm, as short phrases in order of importance: the element (cell/probe),
 * value against threshold, rate, drop, jump, deviation, silence, GB/T 32960 flags.
 */
export function detailParts(tr: Translator, params: Params | undefined): string[] {
  const p = params ?? {}
  const parts: string[] = []
  if (isNum(p.cell)) parts.push(tr.t('alarm.detail.cell', { n: p.cell }))
  else if (isNum(p.cell_max) && isNum(p.cell_min)) parts.push(tr.t('alarm.detail.cells', { max: p.cell_max, min: p.cell_min }))
  if (isNum(p.probe)) parts.push(tr.t('alarm.detail.probe', { n: p.probe }))
  else if (isNum(p.probe_max) && isNum(p.probe_min))
    parts.push(tr.t('alarm.detail.probes', { max: p.probe_max, min: p.probe_min }))

  if (isNum(p.median) && isNum(p.deviation) && isNum(p.value)) {
    parts.push(
      tr.t('alarm.detail.deviation', {
        value: withUnit(p.value, p.unit),
        deviation: withUnit(p.deviation, p.unit),
        threshold: withUnit(p.threshold, p.unit),
      }),
    )
  } else if (isNum(p.previous) && isNum(p.value) && isNum(p.delta)) {
    parts.push(
      tr.t('alarm.detail.jump', {
        previous: withUnit(p.previous, p.unit),
        value: withUnit(p.value, p.unit),
        delta: withUnit(p.delta, p.unit),
      }),
    )
  } else if (isNum(p.value) && isNum(p.threshold)) {
    parts.push(
      tr.t('alarm.detail.compare', {
        value: withUnit(p.value, p.unit),
        op: opSymbol(p.op),
        threshold: withUnit(p.threshold, p.unit),
      }),
    )
  }
  if (isNum(p.rate_per_s)) {
    parts.push(
      tr.t('alarm.detail.rate', {
        rate: withUnit(p.rate_per_s, p.rate_unit),
        op: opSymbol(p.rate_op ?? 'ge'),
        threshold: withUnit(p.rate_threshold, p.rate_unit),
        span: duration(tr, isNum(p.rate_sustained_s) ? p.rate_sustained_s : 0),
      }),
    )
  }
  if (isNum(p.drop_pct)) {
    parts.push(
      tr.t('alarm.detail.drop', {
        pct: num(p.drop_pct),
        from: withUnit(p.drop_reference, p.drop_unit),
        to: withUnit(p.drop_value, p.drop_unit),
        threshold: num(p.drop_threshold_pct),
      }),
    )
  }
  if (isNum(p.silent_s)) {
    parts.push(
      tr.t('alarm.detail.silence', {
        silent: duration(tr, p.silent_s),
        after: duration(tr, isNum(p.after_s) ? p.after_s : 0),
      }),
    )
  }
  if (typeof p.gb_bits === 'string' && p.gb_bits) parts.push(tr.t('alarm.detail.gbBits', { bits: p.gb_bits }))
  else if (isNum(p.gb_max_level) && p.gb_max_level > 0) parts.push(tr.t('alarm.detail.gbLevel', { level: p.gb_max_level }))
  return parts
}

export function alarmDetailOf(tr: Translator, alarm: AlarmLike, maxParts = 4): string {
  if (isFault(alarm)) return ''
  return detailParts(tr, alarm.params).slice(0, maxParts).join(tr.t('alarm.detail.sep'))
}

export function alarmTextOf(tr: Translator, alarm: AlarmLike): string {
  const title = alarmTitleOf(tr, alarm)
  const detail = alarmDetailOf(tr, alarm)
  return detail ? tr.t('alarm.detail.wrap', { title, detail }) : title
}

function translator(t: T, te: Te): Translator {
  return { t: (key, named) => (named ? t(key, named) : t(key)), te: (key) => te(key) }
}

/** One line for an alarm (title and the most telling values) in the reader's language. */
export function alarmText(t: T, te: Te, alarm: AlarmLike): string {
  return alarmTextOf(translator(t, te), alarm)
}

/** Just the title (rule name, or device fault with its class). */
export function alarmTitle(t: T, te: Te, alarm: AlarmLike): string {
  return alarmTitleOf(translator(t, te), alarm)
}

/** Just the values ('' when the params say nothing worth a line). */
export function alarmDetail(t: T, te: Te, alarm: AlarmLike): string {
  return alarmDetailOf(translator(t, te), alarm)
}
