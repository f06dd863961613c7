/**
 * Operator actions on an alarm (LCM-AL-3, SLW-EW-4): acknowledge (optional comment), clear
 * (mandatory reason), assign (a user name; empty unassigns), comment. Limits mirror the API's
 * request models (shared/domain/alarms/desk.py); the API stays the enforcement point.
 */
import { api, unwrap, type Schemas } from '@/api/client'

type Alarm = Schemas['Alarm']

export type ActionKind = 'ack' | 'clear' | 'assign' | 'comment'
export const ACTION_KINDS: readonly ActionKind[] = ['ack', 'clear', 'assign', 'comment']

export const MAX_LENGTH: Record<ActionKind, number> = { ack: 1000, clear: 500, assign: 128, comment: 2000 }
const REQUIRED: Record<ActionKind, boolean> = { ack: false, clear: true, assign: false, comment: true }
const USERNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$/

export type ActionProblem = 'needText' | 'tooLong' | 'badUser' | null

export function validateAction(kind: ActionKind, text: string): ActionProblem {
  const v = text.trim()
  if (REQUIRED[kind] && !v) return 'needText'
  if (v.length > MAX_LENGTH[kind]) return 'tooLong'
  if (kind === 'assign' && v && !USERNAME_RE.test(v)) return 'badUser'
  return null
}

/** The request body of an action (text already validated). */
export function actionBody(kind: ActionKind, text: string): Record<string, string | null> {
  const v = text.trim()
  switch (kind) {
    case 'ack':
      return { comment: v || null }
    case 'clear':
      return { reason: v }
    case 'assign':
      return { assignee: v || null }
    case 'comment':
      return { text: v }
  }
}

/** Run an action; returns the alarm as it is now (a comment leaves it unchanged: null). */
export async function runAction(kind: ActionKind, alarmId: string, text: string): Promise<Alarm | null> {
  const path = { alarm_id: alarmId }
  const v = text.trim()
  switch (kind) {
    case 'ack':
      return unwrap(api().POST('/v1/alarms/{alarm_id}/acknowledge', { params: { path }, body: { comment: v || null } }))
    case 'clear':
      return unwrap(api().POST('/v1/alarms/{alarm_id}/clear', { params: { path }, body: { reason: v } }))
    case 'assign':
      return unwrap(api().POST('/v1/alarms/{alarm_id}/assign', { params: { path }, body: { assignee: v || null } }))
    case 'comment':
      await unwrap(api().POST('/v1/alarms/{alarm_id}/comments', { params: { path }, body: { text: v } }))
      return null
  }
}

/** User names worth suggesting as assignees: the caller, then people already on the alarms. */
export function assigneeSuggestions(me: string, alarms: readonly Alarm[], query: string): string[] {
  const names: string[] = []
  const add = (n: string | null | undefined) => {
    if (n && n !== 'system' && !names.includes(n)) names.push(n)
  }
  add(me)
  for (const a of alarms) {
    add(a.assignee)
    add(a.acknowledged_by)
  }
  const q = query.trim().toLowerCase()
  return q ? names.filter((n) => n.toLowerCase().includes(q)) : names
}
