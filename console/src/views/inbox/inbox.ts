/**
 * The caller's notification inbox (LCM-AL-2, SLW-EW-6, SLW-WEB-7): their personal inbox plus the
 * tenant-wide one, newest first. Personal notifications are pushed on the tenant-wide console topic,
 * so a push is shown only when it belongs to the caller (`inbox` is their user name or the tenant
 * inbox). Read state is per user; marking read is idempotent.
 */
import type { Schemas } from '@/api/client'
import { alarmTextOf, codeName, type Translator } from '@/alarms/text'
import { reasonText } from '@/views/alarms/timeline'

export type Notification = Schemas['NotificationView']

/** shared/contracts/notifications.py TENANT_INBOX: read by every user of the tenant. */
export const TENANT_INBOX = '_tenant'
const KINDS = ['alarm_raised', 'alarm_escalated', 'alarm_reminder', 'alarm_cleared']

export function belongsToCaller(n: Pick<Notification, 'inbox'>, username: string): boolean {
  return n.inbox === TENANT_INBOX || (username !== '' && n.inbox === username)
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A pushed NotificationView, or null for anything else. */
export function parseNotification(payload: unknown): Notification | null {
  if (!isObj(payload)) return null
  const p = payload
  if (
    typeof p.notification_id !== 'string' ||
    typeof p.inbox !== 'string' ||
    typeof p.alarm_id !== 'string' ||
    typeof p.code !== 'string' ||
    typeof p.created_at_ms !== 'number' ||
    typeof p.level !== 'number' ||
    !KINDS.includes(p.kind as string)
  )
    return null
  return { read: false, read_at_ms: null, step: null, reason: null, params: {}, ...p } as unknown as Notification
}

export function compareNewestFirst(a: Notification, b: Notification): number {
  if (a.created_at_ms !== b.created_at_ms) return b.created_at_ms - a.created_at_ms
  return a.notification_id < b.notification_id ? 1 : a.notification_id > b.notification_id ? -1 : 0
}

/**
 * Put a pushed notification in its place (newest first). Idempotent on notification_id; skipped
 * when it is not the caller's, or (with more pages to load) when it is older than the last shown.
 */
export function insertNotification(
  items: readonly Notification[],
  n: Notification,
  username: string,
  exhausted: boolean,
): { items: Notification[]; inserted: boolean } {
  if (!belongsToCaller(n, username) || items.some((i) => i.notification_id === n.notification_id)) {
    return { items: [...items], inserted: false }
  }
  const last = items[items.length - 1]
  if (!exhausted && last && compareNewestFirst(n, last) > 0) return { items: [...items], inserted: false }
  const at = items.findIndex((i) => compareNewestFirst(n, i) < 0)
  const next = [...items]
  next.splice(at < 0 ? next.length : at, 0, n)
  return { items: next, inserted: true }
}

/** Append a page, skipping notifications already shown (a push may have brought them first). */
export function appendPage(items: readonly Notification[], page: readonly Notification[]): Notification[] {
  const ids = new Set(items.map((i) => i.notification_id))
  return [...items, ...page.filter((n) => !ids.has(n.notification_id))]
}

export function markRead(items: readonly Notification[], updated: Notification): Notification[] {
  return items.map((i) => (i.notification_id === updated.notification_id ? updated : i))
}

/** After read-all: everything created at or before `upToMs` is read. */
export function markAllRead(items: readonly Notification[], upToMs: number): Notification[] {
  return items.map((i) => (!i.read && i.created_at_ms <= upToMs ? { ...i, read: true, read_at_ms: upToMs } : i))
}

export interface NotificationLine {
  kind: string
  text: string
  extra: string[]
}

/** What a notification says, in the reader's language. */
export function notificationLine(tr: Translator, n: Notification): NotificationLine {
  const extra: string[] = []
  if (typeof n.step === 'number' && n.step > 0) extra.push(tr.t('inbox.step', { step: n.step }))
  const why = reasonText(tr, n.reason)
  if (why) extra.push(tr.t('inbox.reason', { reason: why }))
  return {
    kind: codeName(tr, 'notificationKind', n.kind),
    text: alarmTextOf(tr, { code: n.code, params: n.params ?? {} }),
    extra,
  }
}
