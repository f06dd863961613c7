/**
 * An alarm's timeline as the operator reads it (LCM-AL-3, LCM-AL-2): every TimelineEntryType
 * localised with actor, time and what happened — raised, notified per channel and recipient,
 * escalated, protective command sent / executed / failed / expired, acknowledged, assigned,
 * commented, cleared.
 */
import type { Schemas } from '@/api/client'
import { codeName, type Translator } from '@/alarms/text'

type Entry = Schemas['TimelineEntry']
export type TimelineColour = 'primary' | 'success' | 'warning' | 'danger' | 'info'

export interface TimelineItem {
  key: string
  type: Entry['type']
  title: string
  /** Lines of detail (already localised). */
  lines: string[]
  actor: string
  atMs: number
  colour: TimelineColour
  /** Emphasise (hollow dot otherwise). */
  important: boolean
}

const COLOURS: Record<Entry['type'], TimelineColour> = {
  raised: 'danger',
  notified: 'info',
  escalated: 'warning',
  command_sent: 'primary',
  command_acked: 'success',
  command_failed: 'danger',
  command_expired: 'danger',
  acknowledged: 'success',
  assigned: 'primary',
  commented: 'info',
  cleared: 'success',
}

const TENANT_INBOX = '_tenant'

export function actorName(tr: Translator, actor: string): string {
  return actor === 'system' || actor === 'device' ? tr.t(`alarm.actor.${actor}`) : actor
}

function str(v: unknown): string | null {
  return v === null || v === undefined || v === '' ? null : String(v)
}

/** A reason code, or the operator's own words (manual clears). */
export function reasonText(tr: Translator, reason: unknown): string | null {
  const r = str(reason)
  if (r === null) return null
  // Commands carry "protective_action:<rule_id>" style reasons.
  const code = r.split(':', 1)[0]
  return tr.te(`alarm.reason.${code}`) ? tr.t(`alarm.reason.${code}`) : r
}

function entryLines(tr: Translator, e: Entry): string[] {
  const p = e.params ?? {}
  const lines: string[] = []
  const add = (key: string, named: Record<string, unknown>) => lines.push(tr.t(`alarms.timeline.${key}`, named))
  switch (e.type) {
    case 'raised':
      if (typeof p.level === 'number') add('level', { level: tr.t(`level.${p.level}`) })
      break
    case 'notified': {
      const contact = str(p.contact)
      add('delivery', {
        channel: codeName(tr, 'channel', p.channel),
        recipient: contact === TENANT_INBOX || contact === null ? tr.t('alarms.timeline.tenantInbox') : contact,
        result: codeName(tr, 'delivery', p.result),
      })
      if (str(p.kind)) add('kind', { kind: codeName(tr, 'notificationKind', p.kind) })
      if (typeof p.step === 'number') add('step', { step: p.step })
      break
    }
    case 'escalated':
      if (typeof p.step === 'number') add(p.repeat ? 'repeat' : 'step', { step: p.step, repeat: p.repeat ?? 0 })
      break
    case 'command_sent':
    case 'command_acked':
    case 'command_failed':
    case 'command_expired':
      if (str(p.command)) add('command', { command: codeName(tr, 'command', p.command) })
      if (str(p.status)) add('commandStatus', { status: codeName(tr, 'commandStatus', p.status) })
      if (str(p.command_id)) add('commandId', { id: p.command_id })
      break
    case 'acknowledged':
      if (str(p.comment)) add('comment', { text: p.comment })
      break
    case 'assigned':
      if (str(p.assignee)) add('assignee', { user: p.assignee })
      else add('unassigned', {})
      break
    case 'commented':
      if (str(p.text)) lines.push(String(p.text))
      break
    case 'cleared':
      break
  }
  const why = e.type === 'commented' || e.type === 'acknowledged' ? null : reasonText(tr, p.reason)
  if (why) add('reason', { reason: why })
  return lines
}

export function timelineItems(tr: Translator, entries: readonly Entry[]): TimelineItem[] {
  return [...entries]
    .sort((a, b) => a.at_ms - b.at_ms || (a.entry_id < b.entry_id ? -1 : a.entry_id > b.entry_id ? 1 : 0))
    .map((e) => ({
      key: e.entry_id,
      type: e.type,
      title: codeName(tr, 'timeline', e.type),
      lines: entryLines(tr, e),
      actor: actorName(tr, e.actor),
      atMs: e.at_ms,
      colour: COLOURS[e.type] ?? 'info',
      important: e.type !== 'notified' && e.type !== 'commented',
    }))
}
