/**
 * Alarm-centre filters (LCM-AL-3): the URL query is the source of truth, so a filtered view can be
 * bookmarked and shared; the API takes one status at a time, so "open" (active + acknowledged) is
 * two queries merged newest first (see ./pager).
 */
import type { LocationQuery, LocationQueryRaw } from 'vue-router'
import type { Schemas } from '@/api/client'


type Alarm = Schemas['Alarm']
type AlarmStatus = Schemas['AlarmStatus']
type AlarmLevel = Schemas['AlarmLevel']

export const STATUS_FILTERS = ['open', 'active', 'acknowledged', 'cleared', 'all'] as const
export type StatusFilter = (typeof STATUS_FILTERS)[number]
export const LEVELS: readonly AlarmLevel[] = [0, 1, 2, 3]

export interface AlarmFilters {
  status: StatusFilter
  /** Alarms at or above this level (null = every level). */
  levelMin: AlarmLevel | null
  /** Exact thing name ('' = every device). */
  thing: string
  /** Raised at or after / at or before, UTC epoch ms. */
  fromMs: number | null
  toMs: number | null
}

export const DEFAULT_FILTERS: Readonly<AlarmFilters> = Object.freeze({
  status: 'open',
  levelMin: null,
  thing: '',
  fromMs: null,
  toMs: null,
})

/** Query of one API call (GET /v1/alarms), without the page token. */
export type AlarmApiQuery = {
  status?: AlarmStatus
  thing_name?: string
  level_min?: AlarmLevel
  from_ms?: number
  to_ms?: number
  limit: number
}

function one(v: LocationQuery[string] | undefined): string | null {
  const s = Array.isArray(v) ? v[0] : v
  return typeof s === 'string' && s !== '' ? s : null
}

function ms(v: string | null): number | null {
  if (v === null || !/^\d{1,15}$/.test(v)) return null
  return Number(v)
}

const THING_RE = /^[A-Za-z0-9_:.-]{1,128}$/

export function filtersFromQuery(q: LocationQuery): AlarmFilters {
  const status = one(q.status)
  const level = one(q.level)
  const thing = one(q.thing)
  let fromMs = ms(one(q.from))
  let toMs = ms(one(q.to))
  if (fromMs !== null && toMs !== null && fromMs > toMs) [fromMs, toMs] = [toMs, fromMs]
  return {
    status: (STATUS_FILTERS as readonly string[]).includes(status ?? '') ? (status as StatusFilter) : DEFAULT_FILTERS.status,
    levelMin: level !== null && /^[0-3]$/.test(level) ? (Number(level) as AlarmLevel) : null,
    thing: thing !== null && THING_RE.test(thing) ? thing : '',
    fromMs,
    toMs,
  }
}

/** The query string of a filter (defaults left out); `extra` keeps e.g. the open alarm. */
export function filtersToQuery(f: AlarmFilters, extra: LocationQueryRaw = {}): LocationQueryRaw {
  const q: LocationQueryRaw = {}
  if (f.status !== DEFAULT_FILTERS.status) q.status = f.status
  if (f.levelMin !== null) q.level = String(f.levelMin)
  if (f.thing.trim()) q.thing = f.thing.trim()
  if (f.fromMs !== null) q.from = String(f.fromMs)
  if (f.toMs !== null) q.to = String(f.toMs)
  for (const [k, v] of Object.entries(extra)) if (v !== null && v !== undefined && v !== '') q[k] = v
  return q
}

export function statusesOf(s: StatusFilter): (AlarmStatus | null)[] {
  if (s === 'open') return ['active', 'acknowledged']
  if (s === 'all') return [null]
  return [s]
}

/** One API query per status the filter covers. */
export function apiQueries(f: AlarmFilters, limit: number): AlarmApiQuery[] {
  return statusesOf(f.status).map((status) => {
    const q: AlarmApiQuery = { limit }
    if (status) q.status = status
    if (f.thing.trim()) q.thing_name = f.thing.trim()
    if (f.levelMin !== null) q.level_min = f.levelMin
    if (f.fromMs !== null) q.from_ms = f.fromMs
    if (f.toMs !== null) q.to_ms = f.toMs
    return q
  })
}

/** Would the API return this alarm for this filter? (Live pushes are filtered the same way.) */
export function matchesFilters(a: Alarm, f: AlarmFilters): boolean {
  const statuses = statusesOf(f.status)
  if (!statuses.includes(null) && !statuses.includes(a.status)) return false
  if (f.levelMin !== null && a.level < f.levelMin) return false
  if (f.thing.trim() && a.thing_name !== f.thing.trim()) return false
  if (f.fromMs !== null && a.raised_at_ms < f.fromMs) return false
  if (f.toMs !== null && a.raised_at_ms > f.toMs) return false
  return true
}

/** Newest first, like the API (raised time, then alarm id). */
export function compareNewestFirst(a: Alarm, b: Alarm): number {
  if (a.raised_at_ms !== b.raised_at_ms) return b.raised_at_ms - a.raised_at_ms
  return a.alarm_id < b.alarm_id ? 1 : a.alarm_id > b.alarm_id ? -1 : 0
}

export function isFiltered(f: AlarmFilters): boolean {
  return f.levelMin !== null || f.thing.trim() !== '' || f.fromMs !== null || f.toMs !== null
}

// The time-range picker edits wall-clock time in the console's zone: helpers in src/format.ts.
export { fromPicker, toPicker, zoneOffsetMs } from '@/format'
