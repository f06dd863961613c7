/**
 * Live alarm pushes → table rows (LCM-AL-1, SLW-WEB-7). The platform pushes every AlarmEvent of the
 * tenant on `voltops/console/v1/{tenant}/alarms`; QoS 0 and reconnect catch-ups mean an event can
 * arrive twice, late, or after a newer state was loaded from the API. So the reducer is idempotent
 * (event ids are deterministic), never lets an older alarm state overwrite a newer one
 * (`updated_at_ms`), and keeps the API's order (newest raised first).
 */
import type { Schemas } from '@/api/client'
import { compareNewestFirst, matchesFilters, type AlarmFilters } from './filters'

type Alarm = Schemas['Alarm']

/** AlarmEventType (shared/contracts/alarms.py): the bus detail-types, also pushed to consoles. */
export const ALARM_EVENT_TYPES = ['AlarmRaised', 'AlarmEscalated', 'AlarmAcknowledged', 'AlarmCleared'] as const
export type AlarmEventType = (typeof ALARM_EVENT_TYPES)[number]

/** AlarmEvent (not an API response, so not in the OpenAPI schema; mirrors the contract). */
export interface AlarmEvent {
  event_id: string
  type: AlarmEventType
  at_ms: number
  alarm: Alarm
  reason: string | null
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The event, or null for anything that is not a well-formed alarm event. */
export function parseAlarmEvent(payload: unknown): AlarmEvent | null {
  if (!isObj(payload) || !isObj(payload.alarm)) return null
  const { event_id, type, at_ms, alarm, reason } = payload
  if (typeof event_id !== 'string' || typeof at_ms !== 'number') return null
  if (!(ALARM_EVENT_TYPES as readonly unknown[]).includes(type)) return null
  const a = alarm
  if (
    typeof a.alarm_id !== 'string' ||
    typeof a.thing_name !== 'string' ||
    typeof a.code !== 'string' ||
    typeof a.raised_at_ms !== 'number' ||
    typeof a.updated_at_ms !== 'number' ||
    typeof a.level !== 'number' ||
    !['active', 'acknowledged', 'cleared'].includes(a.status as string)
  )
    return null
  return {
    event_id,
    type: type as AlarmEventType,
    at_ms,
    alarm: a as unknown as Alarm,
    reason: typeof reason === 'string' ? reason : null,
  }
}

/** Event ids already applied (bounded: the oldest are forgotten first). */
export class SeenIds {
  private ids = new Set<string>()
  constructor(private readonly max = 1000) {}

  /** True the first time an id is seen. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false
    this.ids.add(id)
    if (this.ids.size > this.max) {
      const oldest = this.ids.values().next().value
      if (oldest !== undefined) this.ids.delete(oldest)
    }
    return true
  }

  has(id: string): boolean {
    return this.ids.has(id)
  }
}

export type RowChange = 'inserted' | 'updated' | 'ignored'

/**
 * Apply one alarm state to the loaded rows. A row already shown is updated in place (even if it no
 * longer matches the filter: the operator sees it change, the next load drops it). A new alarm is
 * inserted in order if it matches the filter and falls within what is loaded (`exhausted`: every
 * page is loaded; otherwise it must be newer than the last loaded row).
 */
export function applyAlarm(
  rows: readonly Alarm[],
  alarm: Alarm,
  filters: AlarmFilters,
  exhausted: boolean,
): { rows: Alarm[]; change: RowChange } {
  const i = rows.findIndex((r) => r.alarm_id === alarm.alarm_id)
  if (i >= 0) {
    if (rows[i].updated_at_ms > alarm.updated_at_ms) return { rows: [...rows], change: 'ignored' }
    const next = [...rows]
    next[i] = alarm
    return { rows: next, change: 'updated' }
  }
  if (!matchesFilters(alarm, filters)) return { rows: [...rows], change: 'ignored' }
  const last = rows[rows.length - 1]
  if (!exhausted && last && compareNewestFirst(alarm, last) > 0) return { rows: [...rows], change: 'ignored' }
  const at = rows.findIndex((r) => compareNewestFirst(alarm, r) < 0)
  const next = [...rows]
  next.splice(at < 0 ? next.length : at, 0, alarm)
  return { rows: next, change: 'inserted' }
}

/** Apply a pushed event (idempotent on event_id). */
export function applyAlarmEvent(
  rows: readonly Alarm[],
  ev: AlarmEvent,
  filters: AlarmFilters,
  exhausted: boolean,
  seen: SeenIds,
): { rows: Alarm[]; change: RowChange } {
  if (!seen.add(ev.event_id)) return { rows: [...rows], change: 'ignored' }
  return applyAlarm(rows, ev.alarm, filters, exhausted)
}

/** Raised (or escalated) alarms of level 2 and above deserve a toast. */
export function shouldToast(ev: AlarmEvent, minLevel = 2): boolean {
  return (ev.type === 'AlarmRaised' || ev.type === 'AlarmEscalated') && ev.alarm.level >= minLevel
}
