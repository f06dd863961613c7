// LCM-AL-1, LCM-AL-3, LCM-AL-4, SLW-WEB-7, SLW-IF-1, LCM-PF-7: alarm texts, alarm-centre filters,
// merged pagination, the live event reducer, the timeline and the detail view model.
import { describe, expect, it } from 'vitest'
import { createI18n } from 'vue-i18n'
import type { Schemas } from '@/api/client'
import { mergedMessages } from '@/i18n'
import { alarmDetailOf, alarmText, alarmTextOf, alarmTitleOf, adviceOf, num, type Translator } from '@/alarms/text'
import codes, { RESERVED_CODES, RULE_NAMES } from '@/locales/alarmCodes'
import {
  apiQueries,
  compareNewestFirst,
  DEFAULT_FILTERS,
  filtersFromQuery,
  filtersToQuery,
  fromPicker,
  matchesFilters,
  toPicker,
  type AlarmFilters,
} from '@/views/alarms/filters'
import { MergedPager, type Page } from '@/views/alarms/pager'
import { applyAlarm, applyAlarmEvent, parseAlarmEvent, SeenIds, shouldToast, type AlarmEvent } from '@/views/alarms/live'
import { timelineItems } from '@/views/alarms/timeline'
import { allowedActions, paramRows, triggerTable } from '@/views/alarms/detail'
import { actionBody, assigneeSuggestions, validateAction } from '@/views/alarms/actions'

type Alarm = Schemas['Alarm']
type Entry = Schemas['TimelineEntry']

function translator(locale: 'zh-CN' | 'en'): Translator & { raw: { global: unknown } } {
  const i18n = createI18n({ legacy: false, locale, fallbackLocale: 'en', messages: mergedMessages(), missingWarn: false, fallbackWarn: false })
  const g = i18n.global as unknown as { t: (k: string, n?: Record<string, unknown>) => string; te: (k: string) => boolean }
  return { t: (k, n) => (n ? g.t(k, n) : g.t(k)), te: (k) => g.te(k), raw: i18n }
}
const en = translator('en')
const zh = translator('zh-CN')

let seq = 0
function alarm(over: Partial<Alarm> = {}): Alarm {
  seq++
  return {
    alarm_id: `al-${String(seq).padStart(24, '0')}`,
    tenant_id: 't1',
    thing_name: 'pack-1',
    device_kind: 'battery_pack',
    model_id: 'lfp-16s',
    rule_id: 'cell_overvoltage',
    level: 2,
    status: 'active',
    code: 'cell_overvoltage',
    params: {},
    rule_version: 'default@1',
    raised_at_ms: 1_700_000_000_000 + seq,
    device_ts_ms: 1_700_000_000_000,
    trigger: [],
    acknowledged_at_ms: null,
    acknowledged_by: null,
    cleared_at_ms: null,
    cleared_by: null,
    clear_reason: null,
    assignee: null,
    escalation_step: 0,
    updated_at_ms: 1_700_000_000_000 + seq,
    ...over,
  }
}

describe('alarm texts', () => {
  it('LCM-AL-4, LCM-PF-7: every default rule has a Chinese and an English name; no rule id shadows a sub-tree', () => {
    for (const [id, [zhName, enName]] of Object.entries(RULE_NAMES)) {
      expect(zhName, id).toMatch(/[\u3400-\u9fff]/)
      expect(enName, id).not.toBe('')
      expect(RESERVED_CODES as readonly string[]).not.toContain(id)
    }
    expect(Object.keys(codes['zh-CN'].alarm)).toEqual(Object.keys(codes.en.alarm))
  })

  it('LCM-AL-4: a threshold alarm reads as its name with the cell, value and threshold', () => {
    const a = {
      code: 'cell_overvoltage',
      params: { metric: 'cell_voltage_max_v', op: 'gt', value: 3.7100000001, threshold: 3.65, unit: 'V', cell: 7 },
    }
    expect(alarmTextOf(en, a)).toBe('Cell overvoltage (cell #7; 3.71 V, limit > 3.65 V)')
    expect(alarmTextOf(zh, a)).toBe('单体过压（电芯 #7；3.71 V，阈值 > 3.65 V）')
    // The exported signature other pages call.
    const g = en.raw.global as unknown as { t: never; te: never }
    expect(alarmText(g.t, g.te, a)).toBe('Cell overvoltage (cell #7; 3.71 V, limit > 3.65 V)')
  })

  it('LCM-AL-4: thermal runaway shows the rate and the drop; silence shows the time without messages', () => {
    const tr = {
      code: 'thermal_runaway',
      params: {
        rate_source: 'probe_temperatures_c',
        rate_per_s: 2.6,
        rate_threshold: 1.0,
        rate_op: 'ge',
        rate_sustained_s: 4.0,
        rate_unit: '°C/s',
        probe: 4,
        drop_value: 1.744,
        drop_reference: 3.228,
        drop_pct: 45.97,
        drop_threshold_pct: 25.0,
        drop_unit: 'V',
        cell: 11,
      },
    }
    const text = alarmDetailOf(en, tr, 5)
    expect(text).toContain('cell #11')
    expect(text).toContain('probe #4')
    expect(text).toContain('rate 2.6 °C/s, limit ≥ 1 °C/s, for 4 s')
    expect(text).toContain('dropped 45.97% (3.228 V → 1.744 V), limit 25%')
    const silent = { code: 'communication_lost', params: { silent_s: 420.5, after_s: 300, last_arrival_ms: 1 } }
    expect(alarmTextOf(zh, silent)).toBe('通信中断（7 分钟未收到消息，判定时长 5 分钟）')
  })

  it('SLW-IF-1, SLW-WEB-6: a device fault names its class and code; advice in the reader’s language', () => {
    const f = {
      code: 'fault_bms_cell_sensor_open',
      params: { fault_code: 'bms.cell_sensor_open', classification: 'battery_management', advice: 'advice.inspect_bms_wiring' },
    }
    expect(alarmTitleOf(zh, f)).toBe('设备故障（电池管理系统）：bms.cell_sensor_open')
    expect(alarmTextOf(en, f)).toBe('Device fault (Battery management system): bms.cell_sensor_open')
    expect(adviceOf(en, f)).toMatch(/BMS sense wiring/)
  })

  it('LCM-PF-7: an unknown code falls back to the code itself; numbers lose float noise', () => {
    expect(alarmTextOf(en, { code: 'site_rule_7' })).toBe('site_rule_7')
    expect(num(0.1 + 0.2)).toBe('0.3')
    expect(num(1234.56)).toBe('1234.6')
    expect(num(null)).toBe('—')
  })
})

describe('alarm-centre filters', () => {
  it('LCM-AL-3: the URL query round-trips and bad values fall back to the defaults', () => {
    const f: AlarmFilters = { status: 'cleared', levelMin: 2, thing: 'cab-7', fromMs: 1000, toMs: 2000 }
    const q = filtersToQuery(f, { alarm: 'al-1' })
    expect(q).toEqual({ status: 'cleared', level: '2', thing: 'cab-7', from: '1000', to: '2000', alarm: 'al-1' })
    expect(filtersFromQuery(q as never)).toEqual(f)
    expect(filtersFromQuery({ status: 'bogus', level: '9', thing: 'a b', from: 'x' })).toEqual({ ...DEFAULT_FILTERS })
    expect(filtersFromQuery({ from: '5', to: '3' })).toMatchObject({ fromMs: 3, toMs: 5 })
    expect(filtersToQuery({ ...DEFAULT_FILTERS })).toEqual({})
  })

  it('LCM-AL-3: "open" is two API queries (active, acknowledged); filters go to the API and to live pushes alike', () => {
    const f: AlarmFilters = { ...DEFAULT_FILTERS, levelMin: 1, thing: 'p-1' }
    expect(apiQueries(f, 50)).toEqual([
      { limit: 50, status: 'active', thing_name: 'p-1', level_min: 1 },
      { limit: 50, status: 'acknowledged', thing_name: 'p-1', level_min: 1 },
    ])
    expect(apiQueries({ ...DEFAULT_FILTERS, status: 'all' }, 10)).toEqual([{ limit: 10 }])
    expect(matchesFilters(alarm({ thing_name: 'p-1', level: 2 }), f)).toBe(true)
    expect(matchesFilters(alarm({ thing_name: 'p-1', level: 0 }), f)).toBe(false)
    expect(matchesFilters(alarm({ thing_name: 'p-1', status: 'cleared' }), f)).toBe(false)
    expect(matchesFilters(alarm({ raised_at_ms: 5 }), { ...DEFAULT_FILTERS, fromMs: 6 })).toBe(false)
  })
})

describe('time-range picker', () => {
  it('LCM-PF-5, LCM-UI-1: the picker edits Asia/Shanghai wall-clock time whatever the browser zone', () => {
    const ms = Date.UTC(2026, 0, 1, 16, 30, 5) // 2026-01-02 00:30:05 in Shanghai
    const d = toPicker(ms, 'Asia/Shanghai')
    expect([d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()]).toEqual([2026, 0, 2, 0, 30, 5])
    expect(fromPicker(d, 'Asia/Shanghai')).toBe(ms)
    expect(fromPicker(toPicker(ms, 'Europe/Berlin'), 'Europe/Berlin')).toBe(ms)
  })
})

describe('merged pagination', () => {
  function source(items: Alarm[], size: number): { fetch: (t: string | null) => Promise<Page<Alarm>>; calls: (string | null)[] } {
    const calls: (string | null)[] = []
    const sorted = [...items].sort(compareNewestFirst)
    return {
      calls,
      fetch: async (token) => {
        calls.push(token)
        const start = token ? Number(token) : 0
        const page = sorted.slice(start, start + size)
        return { items: page, next_token: start + size < sorted.length ? String(start + size) : null }
      },
    }
  }

  it('LCM-AL-3: two newest-first sources merge into one exact newest-first sequence, page by page', async () => {
    const a = Array.from({ length: 7 }, (_, i) => alarm({ raised_at_ms: 100 + i * 3 }))
    const b = Array.from({ length: 5 }, (_, i) => alarm({ raised_at_ms: 101 + i * 2, status: 'acknowledged' }))
    const sa = source(a, 3)
    const sb = source(b, 2)
    const pager = new MergedPager([sa.fetch, sb.fetch], compareNewestFirst, (x) => x.alarm_id)
    const got: Alarm[] = []
    got.push(...(await pager.next(4)))
    expect(pager.done).toBe(false)
    while (!pager.done) got.push(...(await pager.next(4)))
    expect(got.map((x) => x.raised_at_ms)).toEqual([...a, ...b].sort(compareNewestFirst).map((x) => x.raised_at_ms))
    expect(sa.calls[0]).toBeNull()
  })

  it('LCM-AL-3: an alarm seen in both sources (acknowledged between fetches) is listed once', async () => {
    const x = alarm({ raised_at_ms: 50 })
    const pager = new MergedPager([source([x], 5).fetch, source([{ ...x, status: 'acknowledged' }], 5).fetch], compareNewestFirst, (y) => y.alarm_id)
    expect(await pager.next(10)).toHaveLength(1)
    expect(pager.done).toBe(true)
  })
})

describe('live alarm events', () => {
  const open = { ...DEFAULT_FILTERS }
  const ev = (type: AlarmEvent['type'], a: Alarm, id = `${a.alarm_id}:${type}`): AlarmEvent => ({
    event_id: id,
    type,
    at_ms: a.updated_at_ms,
    alarm: a,
    reason: null,
  })

  it('LCM-AL-1, SLW-WEB-7: a raised alarm is inserted at the top at once; the same event twice changes nothing', () => {
    const old = [alarm({ raised_at_ms: 10 }), alarm({ raised_at_ms: 5 })].sort(compareNewestFirst)
    const seen = new SeenIds()
    const n = alarm({ raised_at_ms: 20 })
    const r1 = applyAlarmEvent(old, ev('AlarmRaised', n), open, false, seen)
    expect(r1.change).toBe('inserted')
    expect(r1.rows[0].alarm_id).toBe(n.alarm_id)
    const r2 = applyAlarmEvent(r1.rows, ev('AlarmRaised', n), open, false, seen)
    expect(r2.change).toBe('ignored')
    expect(r2.rows).toHaveLength(3)
  })

  it('LCM-AL-3: updates replace the row in place; an older state never overwrites a newer one', () => {
    const a = alarm({ raised_at_ms: 10, updated_at_ms: 10 })
    const rows = [a]
    const acked = { ...a, status: 'acknowledged' as const, acknowledged_by: 'ops', updated_at_ms: 20 }
    const r = applyAlarm(rows, acked, open, true)
    expect(r.change).toBe('updated')
    expect(r.rows[0].status).toBe('acknowledged')
    const cleared = { ...a, status: 'cleared' as const, updated_at_ms: 30 }
    const r2 = applyAlarm(r.rows, cleared, open, true) // kept in place although "open" no longer matches
    expect(r2.rows[0].status).toBe('cleared')
    expect(applyAlarm(r2.rows, acked, open, true).change).toBe('ignored')
  })

  it('LCM-AL-3: alarms outside the filter or older than the loaded page are not inserted; order by raised time', () => {
    const rows = [alarm({ raised_at_ms: 30 }), alarm({ raised_at_ms: 20 })]
    expect(applyAlarm(rows, alarm({ raised_at_ms: 25, level: 0 }), { ...open, levelMin: 1 }, true).change).toBe('ignored')
    expect(applyAlarm(rows, alarm({ raised_at_ms: 10 }), open, false).change).toBe('ignored')
    const mid = alarm({ raised_at_ms: 25 })
    const r = applyAlarm(rows, mid, open, true)
    expect(r.rows.map((x) => x.raised_at_ms)).toEqual([30, 25, 20])
    expect(applyAlarm(rows, alarm({ raised_at_ms: 10 }), open, true).rows.map((x) => x.raised_at_ms)).toEqual([30, 20, 10])
  })

  it('SLW-WEB-7: pushes are parsed defensively; level ≥ 2 raises toast', () => {
    const a = alarm({ level: 3 })
    expect(parseAlarmEvent({ event_id: 'e', type: 'AlarmRaised', at_ms: 1, alarm: a, reason: null })?.alarm.alarm_id).toBe(a.alarm_id)
    expect(parseAlarmEvent({ event_id: 'e', type: 'Nope', at_ms: 1, alarm: a })).toBeNull()
    expect(parseAlarmEvent({ event_id: 'e', type: 'AlarmRaised', at_ms: 1, alarm: { ...a, status: 'weird' } })).toBeNull()
    expect(parseAlarmEvent('junk')).toBeNull()
    expect(shouldToast(ev('AlarmRaised', a))).toBe(true)
    expect(shouldToast(ev('AlarmRaised', alarm({ level: 1 })))).toBe(false)
    expect(shouldToast(ev('AlarmCleared', a))).toBe(false)
  })

  it('LCM-AL-1: the seen-set is bounded and forgets the oldest first', () => {
    const s = new SeenIds(2)
    expect(s.add('a')).toBe(true)
    expect(s.add('a')).toBe(false)
    s.add('b')
    s.add('c')
    expect(s.has('a')).toBe(false)
    expect(s.has('c')).toBe(true)
  })
})

describe('timeline', () => {
  const entry = (type: Entry['type'], at: number, params: Entry['params'] = {}, actor = 'system'): Entry => ({
    alarm_id: 'al-1',
    entry_id: `${type}:${at}`,
    at_ms: at,
    type,
    actor,
    params,
  })

  it('LCM-AL-3, LCM-AL-2: every entry type is localised with actor and details, oldest first', () => {
    const entries: Entry[] = [
      entry('cleared', 90, { reason: 'condition_gone' }),
      entry('raised', 10, { level: 3 }),
      entry('notified', 11, { channel: 'sms', contact: 'duty', result: 'sent', kind: 'alarm_raised' }),
      entry('notified', 11, { channel: 'in_app', contact: '_tenant', result: 'stored', kind: 'alarm_raised' }),
      entry('command_sent', 12, { command: 'cut_off', command_id: 'c1', status: 'sent' }),
      entry('command_acked', 13, { command: 'cut_off', command_id: 'c1', status: 'acked', reason: null }, 'device'),
      entry('escalated', 14, { reason: 'command_ack_missing', step: 1, repeat: 0 }),
      entry('command_failed', 15, { command: 'stop_charge', status: 'failed' }),
      entry('command_expired', 16, { command: 'stop_charge', status: 'expired' }),
      entry('acknowledged', 20, { comment: 'on my way' }, 'ops'),
      entry('assigned', 30, { assignee: 'li.wei' }, 'ops'),
      entry('assigned', 31, { assignee: null }, 'ops'),
      entry('commented', 40, { text: 'fan replaced' }, 'li.wei'),
    ]
    const items = timelineItems(zh, entries)
    expect(items.map((i) => i.type)).toEqual([
      'raised',
      'notified',
      'notified',
      'command_sent',
      'command_acked',
      'escalated',
      'command_failed',
      'command_expired',
      'acknowledged',
      'assigned',
      'assigned',
      'commented',
      'cleared',
    ])
    for (const i of items) expect(i.title, i.type).toMatch(/[\u3400-\u9fff]/)
    const byType = (ty: string) => items.filter((i) => i.type === ty)
    expect(byType('raised')[0].lines).toEqual(['级别：三级（紧急）'])
    expect(byType('notified').flatMap((i) => i.lines)).toContain('短信 → duty：已发送')
    expect(byType('notified').flatMap((i) => i.lines)).toContain('站内消息 → 租户公共收件箱：已送达收件箱')
    expect(byType('command_sent')[0].lines[0]).toBe('指令：切断输出')
    expect(byType('command_acked')[0].actor).toBe('设备')
    expect(byType('escalated')[0].lines).toContain('原因：保护指令未收到设备确认')
    expect(byType('acknowledged')[0].lines).toEqual(['备注：on my way'])
    expect(byType('assigned').map((i) => i.lines[0])).toEqual(['指派给 li.wei', '已取消指派'])
    expect(byType('cleared')[0].lines).toEqual(['原因：条件消失，自动解除'])
    expect(byType('cleared')[0].actor).toBe('系统')
    const manual = timelineItems(en, [entry('cleared', 1, { reason: 'sensor replaced' }, 'ops')])[0]
    expect(manual.lines).toEqual(['Reason: sensor replaced'])
    expect(manual.actor).toBe('ops')
  })
})

describe('alarm detail', () => {
  const fmt = (ms: number) => `T${ms}`

  it('LCM-AL-3, LCM-PF-5: params become labelled rows with units folded in and codes named', () => {
    const rows = paramRows(
      en,
      { metric: 'cell_voltage_max_v', op: 'gt', value: 3.71, threshold: 3.65, unit: 'V', cell: 7, last_arrival_ms: 5, probe_1_2: 3 },
      fmt,
    )
    const m = Object.fromEntries(rows.map((r) => [r.key, [r.label, r.value]]))
    expect(m.metric).toEqual(['Metric', 'Highest cell voltage'])
    expect(m.op).toEqual(['Comparison', '>'])
    expect(m.value).toEqual(['Value', '3.71 V'])
    expect(m.cell).toEqual(['Cell', '7'])
    expect(m.last_arrival_ms[1]).toBe('T5')
    expect(m.probe_1_2[0]).toBe('Probe (1.2)')
    expect(m.unit).toBeUndefined()
  })

  it('SLW-WEB-6: fault advice is rendered; trigger samples form one table', () => {
    const rows = paramRows(zh, { classification: 'sensor', advice: 'advice.replace_sensor', fault_code: 'sensor.t3' }, fmt)
    expect(rows.find((r) => r.key === 'advice')?.value).toBe('校准或更换故障传感器')
    expect(rows.find((r) => r.key === 'classification')?.value).toBe('传感器')
    const table = triggerTable(
      en,
      [
        { message_key: 'm1', device_ts_ms: 1, values: { value: 3.7, unit: 'V' } },
        { message_key: 'm2', device_ts_ms: 2, values: { value: 3.72, cell: 7, unit: 'V' } },
      ],
      fmt,
    )
    expect(table.columns.map((c) => c.key)).toEqual(['value', 'cell'])
    expect(table.rows[0].values).toEqual({ value: '3.7 V', cell: '' })
    expect(table.rows[1].values.cell).toBe('7')
    const steady = triggerTable(
      en,
      [
        { message_key: 'm1', device_ts_ms: 1, values: { metric: 'h2_ppm', value: 139.4, threshold: 100, unit: 'ppm' } },
        { message_key: 'm2', device_ts_ms: 2, values: { metric: 'h2_ppm', value: 218.3, threshold: 100, unit: 'ppm' } },
      ],
      fmt,
    )
    expect(steady.columns.map((c) => c.key)).toEqual(['value'])
    expect(steady.rows.map((r) => r.values.value)).toEqual(['139.4 ppm', '218.3 ppm'])
  })

  it('LCM-AL-3: actions follow the alarm state; reasons and comments are validated like the API', () => {
    expect(allowedActions({ status: 'active' })).toEqual({ ack: true, clear: true, assign: true, comment: true })
    expect(allowedActions({ status: 'acknowledged' }).ack).toBe(false)
    expect(allowedActions({ status: 'cleared' })).toMatchObject({ clear: false, assign: false, comment: true })
    expect(validateAction('clear', '  ')).toBe('needText')
    expect(validateAction('clear', 'x'.repeat(501))).toBe('tooLong')
    expect(validateAction('ack', '')).toBeNull()
    expect(validateAction('assign', '')).toBeNull()
    expect(validateAction('assign', 'bad name')).toBe('badUser')
    expect(actionBody('assign', ' ')).toEqual({ assignee: null })
    expect(actionBody('ack', ' ok ')).toEqual({ comment: 'ok' })
    expect(actionBody('clear', 'r')).toEqual({ reason: 'r' })
  })

  it('LCM-AL-3: assignee suggestions start with the caller and skip the system', () => {
    const rows = [alarm({ assignee: 'li.wei', acknowledged_by: 'system' }), alarm({ acknowledged_by: 'zhang' })]
    expect(assigneeSuggestions('me', rows, '')).toEqual(['me', 'li.wei', 'zhang'])
    expect(assigneeSuggestions('me', rows, 'WEI')).toEqual(['li.wei'])
  })
})
