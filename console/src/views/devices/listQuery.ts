/**
 * The device list's filters, kept in the URL query so a link, a reload or the back button
 * restores exactly the same page; and their translation to `GET /v1/fleet/devices`.
 * Defaults are left out of the URL (a clean `/devices` is the default view); anything the
 * API would refuse (an unknown status, a page size we do not offer) is dropped on the way in.
 */
import type { LocationQuery, LocationQueryRaw } from 'vue-router'
import type { paths, Schemas } from '@/api/client'

export type DeviceKind = Schemas['DeviceKind']
export type FleetStatus = Schemas['FleetStatus']
export type FleetQuery = NonNullable<paths['/v1/fleet/devices']['get']['parameters']['query']>
export type SortKey = NonNullable<FleetQuery['sort']>
export type SortOrder = 'asc' | 'desc'

export const KINDS: readonly DeviceKind[] = ['battery_pack', 'storage_cabinet']
export const STATUSES: readonly FleetStatus[] = ['charging', 'discharging', 'idle', 'fault', 'offline', 'inactive']
export const SORT_KEYS: readonly SortKey[] = ['thing_name', 'last_seen_ms', 'worst_level', 'soc_pct', 'status', 'kind']
export const PAGE_SIZES = [20, 50, 100] as const
export type PageSize = (typeof PAGE_SIZES)[number]
export const LEVELS = [0, 1, 2, 3] as const

export interface DeviceFilters {
  q: string
  kind: DeviceKind | null
  status: FleetStatus[]
  model: string
  minLevel: number | null
  sort: SortKey
  order: SortOrder
  page: number
  pageSize: PageSize
}

/** The API's own default sort: the devices that need attention first. */
export const DEFAULT_SORT: SortKey = 'worst_level'

/** As the API: biggest first for alarm level and last seen, ascending otherwise. */
export function defaultOrder(sort: SortKey): SortOrder {
  return sort === 'worst_level' || sort === 'last_seen_ms' ? 'desc' : 'asc'
}

export function defaultFilters(): DeviceFilters {
  return {
    q: '',
    kind: null,
    status: [],
    model: '',
    minLevel: null,
    sort: DEFAULT_SORT,
    order: defaultOrder(DEFAULT_SORT),
    page: 1,
    pageSize: 20,
  }
}

function first(v: LocationQuery[string] | undefined): string {
  if (Array.isArray(v)) return v.find((x): x is string => typeof x === 'string') ?? ''
  return typeof v === 'string' ? v : ''
}

function all(v: LocationQuery[string] | undefined): string[] {
  const raw = Array.isArray(v) ? v : [v]
  return raw.filter((x): x is string => typeof x === 'string').flatMap((x) => x.split(','))
}

function positiveInt(s: string): number | null {
  if (!/^[0-9]{1,6}$/.test(s)) return null
  const n = Number(s)
  return n >= 1 ? n : null
}

export function filtersFromQuery(query: LocationQuery): DeviceFilters {
  const f = defaultFilters()
  f.q = first(query.q).trim().slice(0, 128)
  const kind = first(query.kind)
  f.kind = (KINDS as readonly string[]).includes(kind) ? (kind as DeviceKind) : null
  const wanted = new Set(all(query.status).map((s) => s.trim()))
  f.status = STATUSES.filter((s) => wanted.has(s)) // canonical order, no duplicates
  f.model = first(query.model).trim().slice(0, 64)
  const level = first(query.min_level)
  f.minLevel = /^[0-3]$/.test(level) ? Number(level) : null
  const sort = first(query.sort)
  f.sort = (SORT_KEYS as readonly string[]).includes(sort) ? (sort as SortKey) : DEFAULT_SORT
  const order = first(query.order)
  f.order = order === 'asc' || order === 'desc' ? order : defaultOrder(f.sort)
  f.page = positiveInt(first(query.page)) ?? 1
  const size = positiveInt(first(query.page_size))
  f.pageSize = (PAGE_SIZES as readonly number[]).includes(size ?? 0) ? (size as PageSize) : 20
  return f
}

/** The URL query of a filter set: only what differs from the defaults. */
export function filtersToQuery(f: DeviceFilters): LocationQueryRaw {
  const q: Record<string, string> = {}
  if (f.q.trim()) q.q = f.q.trim()
  if (f.kind) q.kind = f.kind
  if (f.status.length) q.status = STATUSES.filter((s) => f.status.includes(s)).join(',')
  if (f.model.trim()) q.model = f.model.trim()
  if (f.minLevel !== null) q.min_level = String(f.minLevel)
  if (f.sort !== DEFAULT_SORT) q.sort = f.sort
  if (f.order !== defaultOrder(f.sort)) q.order = f.order
  if (f.page !== 1) q.page = String(f.page)
  if (f.pageSize !== 20) q.page_size = String(f.pageSize)
  return q
}

/** Query parameters of `GET /v1/fleet/devices` for a filter set. */
export function apiQuery(f: DeviceFilters): FleetQuery {
  const q: FleetQuery = { sort: f.sort, order: f.order, page: f.page, page_size: f.pageSize }
  if (f.q.trim()) q.q = f.q.trim()
  if (f.kind) q.kind = f.kind
  if (f.status.length) q.status = f.status.join(',')
  if (f.model.trim()) q.model_id = f.model.trim()
  if (f.minLevel !== null) q.min_level = f.minLevel
  return q
}

/** A column header click: the same key flips the order, a new key starts at its natural order. */
export function toggleSort(f: DeviceFilters, key: SortKey): DeviceFilters {
  const order: SortOrder = f.sort === key ? (f.order === 'asc' ? 'desc' : 'asc') : defaultOrder(key)
  return { ...f, sort: key, order, page: 1 }
}

/** Any change other than the page itself starts again at page 1. */
export function withFilter(f: DeviceFilters, patch: Partial<Omit<DeviceFilters, 'page'>>): DeviceFilters {
  return { ...f, ...patch, page: 1 }
}

/** Two filter sets load the same page. */
export function sameFilters(a: DeviceFilters, b: DeviceFilters): boolean {
  return JSON.stringify(filtersToQuery(a)) === JSON.stringify(filtersToQuery(b))
}

/** The number of filters narrowing the list (for the "filters (n)" button on phones). */
export function activeFilterCount(f: DeviceFilters): number {
  return [f.q.trim() !== '', f.kind !== null, f.status.length > 0, f.model.trim() !== '', f.minLevel !== null].filter(Boolean)
    .length
}

/** The last page that still has rows after the total shrank (a live refresh after clears). */
export function clampPage(page: number, total: number, pageSize: number): number {
  const last = Math.max(1, Math.ceil(total / pageSize))
  return Math.min(Math.max(1, page), last)
}
