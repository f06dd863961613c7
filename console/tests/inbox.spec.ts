// LCM-AL-2, SLW-EW-6, SLW-WEB-7: the notification inbox — whose pushes to show, ordering,
// idempotent inserts, read state and the localised notification line.
import { describe, expect, it } from 'vitest'
import { createI18n } from 'vue-i18n'
import { mergedMessages } from '@/i18n'
import type { Translator } from '@/alarms/text'
import {
  appendPage,
  belongsToCaller,
  insertNotification,
  markAllRead,
  markRead,
  notificationLine,
  parseNotification,
  type Notification,
} from '@/views/inbox/inbox'

function translator(locale: 'zh-CN' | 'en'): Translator {
  const i18n = createI18n({ legacy: false, locale, messages: mergedMessages(), missingWarn: false, fallbackWarn: false })
  const g = i18n.global as unknown as { t: (k: string, n?: Record<string, unknown>) => string; te: (k: string) => boolean }
  return { t: (k, n) => (n ? g.t(k, n) : g.t(k)), te: (k) => g.te(k) }
}

let seq = 0
function note(over: Partial<Notification> = {}): Notification {
  seq++
  return {
    notification_id: `t${String(1_700_000_000_000 + seq)}${'0'.repeat(15)}${seq % 10}`,
    tenant_id: 't1',
    inbox: '_tenant',
    kind: 'alarm_raised',
    created_at_ms: 1_700_000_000_000 + seq,
    event_id: `e${seq}`,
    alarm_id: `al-${seq}`,
    thing_name: 'cab-1',
    level: 2,
    code: 'h2_high',
    params: {},
    step: null,
    reason: null,
    read: false,
    read_at_ms: null,
    ...over,
  }
}

describe('inbox', () => {
  it('SLW-EW-6: a push is the caller’s when it is in the tenant inbox or their personal one', () => {
    expect(belongsToCaller({ inbox: '_tenant' }, 'li.wei')).toBe(true)
    expect(belongsToCaller({ inbox: 'li.wei' }, 'li.wei')).toBe(true)
    expect(belongsToCaller({ inbox: 'zhang' }, 'li.wei')).toBe(false)
    expect(belongsToCaller({ inbox: '' }, '')).toBe(false)
  })

  it('SLW-WEB-7: pushes are inserted newest first, once, and only the caller’s', () => {
    const a = note({ created_at_ms: 100 })
    const b = note({ created_at_ms: 50 })
    let items = [a, b]
    const mine = note({ created_at_ms: 200, inbox: 'li.wei' })
    const r = insertNotification(items, mine, 'li.wei', true)
    expect(r.inserted).toBe(true)
    items = r.items
    expect(items[0].notification_id).toBe(mine.notification_id)
    expect(insertNotification(items, mine, 'li.wei', true).inserted).toBe(false)
    expect(insertNotification(items, note({ created_at_ms: 300, inbox: 'zhang' }), 'li.wei', true).inserted).toBe(false)
    // Older than what is loaded while more pages exist: the next page brings it.
    expect(insertNotification(items, note({ created_at_ms: 10 }), 'li.wei', false).inserted).toBe(false)
    const mid = insertNotification(items, note({ created_at_ms: 75 }), 'li.wei', true)
    expect(mid.items.map((n) => n.created_at_ms)).toEqual([200, 100, 75, 50])
    expect(appendPage(items, [b, note({ created_at_ms: 1 })]).length).toBe(items.length + 1)
  })

  it('LCM-AL-2: read one and read all update the read state locally', () => {
    const a = note({ created_at_ms: 100 })
    const b = note({ created_at_ms: 300 })
    const items = [b, a]
    const one = markRead(items, { ...a, read: true, read_at_ms: 150 })
    expect(one.map((n) => n.read)).toEqual([false, true])
    const all = markAllRead(items, 200)
    expect(all.map((n) => n.read)).toEqual([false, true]) // b came after the read-all instant
  })

  it('SLW-WEB-7: pushes are parsed defensively', () => {
    const n = note()
    const { read: _r, read_at_ms: _ra, ...pushed } = n
    expect(parseNotification({ ...pushed, read: false })?.notification_id).toBe(n.notification_id)
    expect(parseNotification({ ...n, kind: 'other' })).toBeNull()
    expect(parseNotification({ ...n, created_at_ms: 'x' })).toBeNull()
    expect(parseNotification(null)).toBeNull()
  })

  it('LCM-PF-7, SLW-EW-6: a notification reads as its kind, the alarm text, step and reason in the reader’s language', () => {
    const n = note({
      kind: 'alarm_escalated',
      code: 'cell_overvoltage',
      params: { value: 3.7, threshold: 3.65, op: 'gt', unit: 'V', cell: 3 },
      step: 2,
      reason: 'not_acknowledged',
    })
    expect(notificationLine(translator('zh-CN'), n)).toEqual({
      kind: '告警升级',
      text: '单体过压（电芯 #3；3.7 V，阈值 > 3.65 V）',
      extra: ['升级第 2 步', '原因：告警仍未确认'],
    })
    expect(notificationLine(translator('en'), note({ kind: 'alarm_cleared', code: 'smoke' }))).toEqual({
      kind: 'Alarm cleared',
      text: 'Smoke detected',
      extra: [],
    })
  })
})
