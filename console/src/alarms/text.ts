/**
 * Alarm texts are never sentences on the wire: an alarm carries a message code (`code`, the
 * rule id or a fault code) and params; the console renders them in the reader's language from
 * `src/locales/alarmCodes.ts` (key `alarm.<code>`), falling back to the code itself.
 * Owned by the alarm-centre pages; other pages only call `alarmText`.
 */
import type { Composer } from 'vue-i18n'

type T = Composer['t']
type Te = Composer['te']

export interface AlarmLike {
  code: string
  params?: Record<string, string | number | boolean | null>
}

export function alarmText(t: T, te: Te, alarm: AlarmLike): string {
  const key = `alarm.${alarm.code}`
  return te(key) ? t(key, (alarm.params ?? {}) as Record<string, unknown>) : alarm.code
}
