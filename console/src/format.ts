/** Localised formatting of times, numbers and units (Asia/Shanghai by default). */
import { DEFAULT_TIME_ZONE } from '@/i18n'

// One zone for every time the console shows (a per-user choice would set it here).
const timeZone = DEFAULT_TIME_ZONE

export function currentTimeZone(): string {
  return timeZone
}

export function formatDateTime(ms: number | null | undefined, locale: string, withSeconds = true): string {
  if (ms === null || ms === undefined) return '—'
  return new Intl.DateTimeFormat(locale, {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: withSeconds ? '2-digit' : undefined,
    hourCycle: 'h23',
  }).format(new Date(ms))
}

export function formatTime(ms: number | null | undefined, locale: string): string {
  if (ms === null || ms === undefined) return '—'
  return new Intl.DateTimeFormat(locale, {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(ms))
}

export function formatNumber(v: number | null | undefined, locale: string, digits = 0): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—'
  return new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(v)
}

/** "3 min ago" style, localised. */
export function formatRelative(ms: number | null | undefined, locale: string, nowMs = Date.now()): string {
  if (ms === null || ms === undefined) return '—'
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' })
  const s = Math.round((ms - nowMs) / 1000)
  const abs = Math.abs(s)
  if (abs < 60) return rtf.format(s, 'second')
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute')
  if (abs < 86400) return rtf.format(Math.round(s / 3600), 'hour')
  return rtf.format(Math.round(s / 86400), 'day')
}

/** Alarm level colours shared by tables, charts and the map (0 info … 3 critical). */
export const LEVEL_COLOURS: Record<number, string> = {
  0: '#909399',
  1: '#e6a23c',
  2: '#f56c6c',
  3: '#a8071a',
}

/** Device status colours shared by the overview, the list and the map. */
export const STATUS_COLOURS: Record<string, string> = {
  charging: '#409eff',
  discharging: '#67c23a',
  idle: '#73767a',
  fault: '#f56c6c',
  offline: '#c0c4cc',
  inactive: '#dcdfe6',
}

// ---- date pickers in the console time zone ----------------------------------------------------

/** Offset of `timeZone` from UTC at an instant, ms (Asia/Shanghai: +8 h). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms))
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0)
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour') % 24, get('minute'), get('second'))
  return wall - (ms - (((ms % 1000) + 1000) % 1000))
}

/**
 * el-date-picker shows and edits browser-local wall-clock time, the console shows times in its
 * own zone (Asia/Shanghai by default): the picker gets a Date whose local fields are the
 * console zone's wall clock, and `fromPicker` reads it back.
 */
export function toPicker(ms: number, timeZone = currentTimeZone()): Date {
  const browserOffset = -new Date(ms).getTimezoneOffset() * 60_000
  return new Date(ms + zoneOffsetMs(ms, timeZone) - browserOffset)
}

export function fromPicker(d: Date, timeZone = currentTimeZone()): number {
  const wall = Date.UTC(d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds())
  const guess = wall - zoneOffsetMs(wall, timeZone)
  return wall - zoneOffsetMs(guess, timeZone)
}
