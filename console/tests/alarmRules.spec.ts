// SLW-WEB-3, SLW-EW-5, ARC-3: alarm rules in the console — scopes, the overlay (same semantics as
// the API's resolve), the draft of a scope, validation like the contracts, diffs and summaries.
import { describe, expect, it } from 'vitest'
import { createI18n } from 'vue-i18n'
import { mergedMessages } from '@/i18n'
import type { Translator } from '@/alarms/text'
import {
  draftOf,
  layerScopes,
  parseScope,
  previewRows,
  removeRule,
  resolve,
  sameDraft,
  scopeString,
  switchRule,
  upsertRule,
  type Layer,
  type Rule,
} from '@/views/alarm-rules/rules'
import { conditionTemplate, CONDITION_TYPES, newRule, parseParamsText, paramsText, validateCondition, validateRule } from '@/views/alarm-rules/editor'
import { diffDrafts, diffView, fieldChanges, flatten } from '@/views/alarm-rules/diff'
import { actionsSummary, conditionSummary } from '@/views/alarm-rules/summary'

function translator(locale: 'zh-CN' | 'en'): Translator {
  const i18n = createI18n({ legacy: false, locale, messages: mergedMessages(), missingWarn: false, fallbackWarn: false })
  const g = i18n.global as unknown as { t: (k: string, n?: Record<string, unknown>) => string; te: (k: string) => boolean }
  return { t: (k, n) => (n ? g.t(k, n) : g.t(k)), te: (k) => g.te(k) }
}
const en = translator('en')
const zh = translator('zh-CN')

function rule(id: string, over: Partial<Rule> = {}): Rule {
  return {
    rule_id: id,
    kinds: ['battery_pack', 'storage_cabinet'],
    level: 1,
    enabled: true,
    auto_clear: true,
    actions: [],
    clear_actions: [],
    condition: { type: 'threshold', metric: 'soc_pct', op: 'lt', value: 8, limit: null, hysteresis: 2, for_s: 60, clear_for_s: 60 },
    ...over,
  }
}

const H2 = rule('h2_prewarning', {
  kinds: ['storage_cabinet'],
  level: 0,
  condition: { type: 'threshold', metric: 'h2_ppm', op: 'ge', value: 100, limit: null, hysteresis: 20, for_s: 2, clear_for_s: 60 },
  actions: [{ command: 'set_reporting_interval', params: { interval_ms: 500 }, ttl_s: 30, ack_timeout_s: 15 }],
  clear_actions: [{ command: 'set_reporting_interval', params: { interval_ms: 1000 }, ttl_s: 30, ack_timeout_s: 15 }],
})
const CELL_OV = rule('cell_overvoltage_critical', {
  level: 3,
  auto_clear: false,
  condition: {
    type: 'threshold',
    metric: 'cell_voltage_max_v',
    op: 'gt',
    value: null,
    limit: { limit: 'cell_voltage_max_v', factor: 1.05, offset: 0 },
    hysteresis: 0,
    for_s: 2,
    clear_for_s: 0,
  },
  actions: [{ command: 'cut_off', params: {}, ttl_s: 30, ack_timeout_s: 15 }],
})
const SOC_LOW = rule('soc_low')
const DEFAULTS = { version: 1, rules: [H2, CELL_OV, SOC_LOW] }

describe('scopes', () => {
  it('SLW-WEB-3: scopes parse like the contract pattern and layer in order', () => {
    expect(parseScope('tenant')).toEqual({ kind: 'tenant', id: '' })
    expect(parseScope('model:lfp-16s280-ess')).toEqual({ kind: 'model', id: 'lfp-16s280-ess' })
    expect(parseScope('device:cab-7')).toEqual({ kind: 'device', id: 'cab-7' })
    expect(parseScope('device:a b')).toBeNull()
    expect(parseScope('site:x')).toBeNull()
    expect(scopeString({ kind: 'model', id: 'm1' })).toBe('model:m1')
    expect(layerScopes({ kind: 'device', id: 'cab-7' }, 'm1')).toEqual(['tenant', 'model:m1', 'device:cab-7'])
    expect(layerScopes({ kind: 'model', id: 'm1' })).toEqual(['tenant', 'model:m1'])
  })
})

describe('overlay', () => {
  // docs/alarm-rules.md §1: a tenant override of the H₂ pre-warning and no SOC-low alarm.
  const tenantH2 = { ...H2, condition: { ...H2.condition, value: 50, hysteresis: 10 } } as Rule
  const tenant: Layer = { scope: 'tenant', version: 3, rules: [tenantH2], disabled: ['soc_low'] }

  it('ARC-3, SLW-WEB-3: later scopes replace rules by id and switch ids off; each row names its source', () => {
    const r = resolve(DEFAULTS, [tenant], null)
    expect(r.label).toBe('default@1+tenant@3')
    const by = Object.fromEntries(r.rows.map((x) => [x.rule.rule_id, x]))
    expect(by.h2_prewarning.source).toBe('tenant')
    expect(by.h2_prewarning.sourceVersion).toBe(3)
    expect(by.cell_overvoltage_critical.source).toBe('default')
    expect(by.soc_low.switchedOff).toBe(true)
    expect(by.soc_low.active).toBe(false)
    expect(r.disabled).toEqual(['soc_low'])
  })

  it('ARC-3: a later scope re-defining a switched-off rule lifts the switch-off; kinds filter the rows', () => {
    const device: Layer = { scope: 'device:pack-1', version: 1, rules: [SOC_LOW], disabled: [] }
    const r = resolve(DEFAULTS, [tenant, device], 'battery_pack')
    const ids = r.rows.map((x) => x.rule.rule_id)
    expect(ids).not.toContain('h2_prewarning') // cabinets only
    const soc = r.rows.find((x) => x.rule.rule_id === 'soc_low')
    expect(soc?.active).toBe(true)
    expect(soc?.source).toBe('device:pack-1')
  })

  it('SLW-WEB-3: the draft of a scope previews in place of its saved version', () => {
    const d = upsertRule(draftOf(null), { ...CELL_OV, level: 2 })
    const r = previewRows(DEFAULTS, [tenant], 'model:m1', d, 'storage_cabinet')
    expect(r.rows.find((x) => x.rule.rule_id === 'cell_overvoltage_critical')).toMatchObject({ source: 'model:m1' })
    expect(r.label).toBe('default@1+tenant@3+model:m1@0')
  })
})

describe('the draft', () => {
  it('SLW-WEB-3: switching off adds the id; switching on removes it or, for a lower scope’s switch-off, re-defines the rule', () => {
    let d = draftOf(null)
    d = switchRule(d, CELL_OV, false, false)
    expect(d.disabled).toEqual(['cell_overvoltage_critical'])
    expect(switchRule(d, CELL_OV, false, false)).toBe(d)
    d = switchRule(d, CELL_OV, true, false)
    expect(d).toEqual({ rules: [], disabled: [] })
    const onAgain = switchRule(d, SOC_LOW, true, true)
    expect(onAgain.rules.map((r) => r.rule_id)).toEqual(['soc_low'])
    const own = switchRule(draftOf(null), { ...SOC_LOW, enabled: false }, true, false)
    expect(own.rules[0].enabled).toBe(true)
  })

  it('SLW-WEB-3: upsert replaces by id, remove reverts to the inherited rule, equality ignores order', () => {
    const d = upsertRule(upsertRule(draftOf(null), H2), SOC_LOW)
    const changed = upsertRule(d, { ...H2, level: 1 })
    expect(changed.rules).toHaveLength(2)
    expect(changed.rules.find((r) => r.rule_id === 'h2_prewarning')?.level).toBe(1)
    expect(removeRule(changed, 'soc_low').rules.map((r) => r.rule_id)).toEqual(['h2_prewarning'])
    expect(sameDraft(d, { rules: [SOC_LOW, H2], disabled: [] })).toBe(true)
    expect(sameDraft(d, changed)).toBe(false)
    // The saved version is never mutated through the draft.
    const saved = { rules: [H2], disabled: [] }
    const draft = draftOf(saved)
    ;(draft.rules[0].condition as { value: number }).value = 1
    expect((saved.rules[0].condition as { value: number }).value).toBe(100)
  })
})

describe('validation', () => {
  it('SLW-EW-5: the default-like rules and the documented tenant override are valid', () => {
    for (const r of [H2, CELL_OV, SOC_LOW]) expect(validateRule(r), r.rule_id).toEqual([])
    for (const type of CONDITION_TYPES) expect(validateCondition(conditionTemplate(type)), type).toEqual([])
    expect(validateRule({ ...newRule(['battery_pack']), rule_id: 'site_rule_1' })).toEqual([])
  })

  it('SLW-WEB-3: rule ids, kinds and levels are checked like the contract', () => {
    const codes = (r: Rule, ctx = {}) => validateRule(r, ctx).map((p) => `${p.path}:${p.code}`)
    expect(codes(rule('Bad-Id'))).toEqual(['rule_id:ruleId'])
    expect(codes(rule('advice'))).toEqual(['rule_id:reserved'])
    expect(codes(rule('soc_low'), { isNew: true, existingIds: ['soc_low'] })).toEqual(['rule_id:duplicate'])
    expect(codes(rule('x', { kinds: [] }))).toEqual(['kinds:kinds'])
    expect(codes(rule('x', { kinds: ['storage_cabinet'] }), { deviceKind: 'battery_pack' })).toEqual(['kinds:kindMismatch'])
    expect(codes(rule('x', { level: 5 as never }))).toEqual(['level:choice'])
  })

  it('SLW-EW-5: condition numbers, references and combinations are checked', () => {
    const paths = (c: unknown) => validateCondition(c).map((p) => `${p.path}:${p.code}`)
    expect(paths({ type: 'threshold', metric: 'soc_pct', op: 'lt', value: 8, limit: { limit: 'cell_voltage_max_v' } })).toEqual([
      'condition.value:valueOrLimit',
    ])
    expect(paths({ type: 'threshold', metric: 'soc_pct', op: 'lt', value: null, limit: null })).toEqual(['condition.value:valueOrLimit'])
    expect(paths({ type: 'threshold', metric: 'soc_pct', op: 'lt', value: 8, for_s: 90000 })).toEqual(['condition.for_s:range'])
    expect(paths({ type: 'threshold', metric: 'nope', op: 'lt', value: 8, limit: { limit: 'cell_voltage_max_v', factor: 0 } })).toEqual([
      'condition.metric:choice',
      'condition.value:valueOrLimit',
      'condition.limit.factor:range',
    ])
    expect(paths({ type: 'silence', after_s: 10 })).toEqual(['condition.after_s:range'])
    expect(paths({ type: 'silence' })).toEqual(['condition.after_s:required'])
    expect(paths({ type: 'gb_alarm', bits: [] })).toEqual(['condition.bits:bitsOrLevel'])
    expect(paths({ type: 'gb_alarm', bits: [40] })).toEqual(['condition.bits:bits'])
    expect(paths({ type: 'rate', metric: 'soc_pct', series: 'cell_voltages_v', rate_per_s: 1 })).toEqual(['condition.metric:metricOrSeries'])
    expect(paths({ type: 'drop', fraction: 1 })).toEqual(['condition.fraction:range'])
    expect(paths({ type: 'all', conditions: [] })).toEqual(['condition.conditions:required'])
    expect(paths({ type: 'any', conditions: [{ type: 'signal', signal: 'smoke_detected' }, { type: 'silence', after_s: 5 }] })).toEqual([
      'condition.conditions[1].after_s:range',
    ])
    expect(paths({ type: 'weird' })).toEqual(['condition.type:choice'])
  })

  it('SLW-PR-1: protective actions are checked (command, ttl, ack timeout, params)', () => {
    const r = rule('x', {
      actions: [
        { command: 'cut_off', params: {}, ttl_s: 2, ack_timeout_s: 15 },
        { command: 'launch' as never, params: { a: [1] as never }, ttl_s: 30, ack_timeout_s: 15 },
      ],
    })
    expect(validateRule(r).map((p) => `${p.path}:${p.code}`)).toEqual([
      'actions[0].ttl_s:range',
      'actions[1].command:choice',
      'actions[1].params:params',
    ])
    expect(parseParamsText('interval_ms=500, mode = fast, on=true')).toEqual({ interval_ms: 500, mode: 'fast', on: true })
    expect(parseParamsText('oops')).toBeNull()
    expect(paramsText({ interval_ms: 500 })).toBe('interval_ms=500')
  })
})

describe('diffs', () => {
  it('SLW-WEB-3, LCM-SEC-6: a draft diff lists added, removed and changed rules and switched ids, like the API', () => {
    const before = { rules: [H2, SOC_LOW], disabled: ['cell_overvoltage_critical'] }
    const after = { rules: [{ ...H2, level: 1 } as Rule, CELL_OV], disabled: ['soc_low'] }
    const d = diffDrafts('tenant', before, after, 3, 4)
    expect(d.changes.map((c) => `${c.rule_id}:${c.change}`)).toEqual([
      'cell_overvoltage_critical:added',
      'h2_prewarning:changed',
      'soc_low:removed',
    ])
    expect(d.disabled_added).toEqual(['soc_low'])
    expect(d.disabled_removed).toEqual(['cell_overvoltage_critical'])
    expect(d).toMatchObject({ scope: 'tenant', from_version: 3, to_version: 4 })
    expect(diffDrafts('tenant', before, before).changes).toEqual([])
  })

  it('SLW-WEB-3: field-level changes side by side, in a readable order', () => {
    const after = { ...H2, level: 1, condition: { ...H2.condition, value: 50 }, actions: [] } as Rule
    const f = fieldChanges(H2, after)
    expect(f.map((x) => [x.path, x.before, x.after])).toEqual([
      ['level', '0', '1'],
      ['condition.value', '100', '50'],
      ['actions', null, '[]'],
      ['actions[0].ack_timeout_s', '15', null],
      ['actions[0].command', '"set_reporting_interval"', null],
      ['actions[0].params.interval_ms', '500', null],
      ['actions[0].ttl_s', '30', null],
    ])
    expect(flatten({ a: { b: [1, 2] } })).toEqual({ 'a.b[0]': '1', 'a.b[1]': '2' })
    const v = diffView(zh, diffDrafts('tenant', { rules: [H2], disabled: [] }, { rules: [after], disabled: ['soc_low'] }))
    expect(v.counts).toEqual({ added: 0, removed: 0, changed: 1, override: 0, revert: 0 })
    expect(v.changes[0].title).toBe('氢气浓度预警')
    expect(v.disabledAdded).toEqual([{ ruleId: 'soc_low', title: 'SOC 过低' }])
    expect(v.empty).toBe(false)
  })

  it('SLW-WEB-3: before saving, a rule added over an inherited one shows as an override compared with it', () => {
    const override = { ...H2, condition: { ...H2.condition, value: 50 } } as Rule
    const inherited = new Map([[H2.rule_id, H2], [SOC_LOW.rule_id, SOC_LOW]])
    const d = diffDrafts('tenant', { rules: [SOC_LOW], disabled: [] }, { rules: [override], disabled: [] })
    const v = diffView(en, d, inherited)
    expect(v.changes.map((c) => [c.ruleId, c.change])).toEqual([
      ['h2_prewarning', 'override'],
      ['soc_low', 'revert'],
    ])
    expect(v.changes[0].fields).toEqual([{ path: 'condition.value', before: '100', after: '50', kind: 'changed' }])
    expect(v.changes[1].fields).toEqual([])
    expect(v.counts).toMatchObject({ override: 1, revert: 1 })
  })
})

describe('summaries', () => {
  it('SLW-WEB-3, LCM-UI-1: conditions read as sentences, limits resolved against the model', () => {
    const limits = {
      cell_voltage_max_v: 3.65,
      cell_voltage_min_v: 2.5,
      pack_voltage_max_v: 58.4,
      pack_voltage_min_v: 40,
      temperature_min_c: -20,
      max_operating_temperature_c: 55,
      max_charge_current_a: 100,
      max_discharge_current_a: 200,
    }
    expect(conditionSummary(en, CELL_OV.condition, limits)).toBe(
      'Highest cell voltage > Cell voltage maximum × 1.05 (= 3.833 V) for 2 s',
    )
    expect(conditionSummary(zh, SOC_LOW.condition)).toBe('荷电状态 SOC < 8%，持续 60 秒（回差 2%）')
    expect(conditionSummary(en, { type: 'silence', after_s: 300 })).toBe('no message for 300 s')
    const runaway = {
      type: 'any',
      conditions: [
        {
          type: 'all',
          conditions: [
            { type: 'rate', series: 'probe_temperatures_c', metric: null, op: 'ge', rate_per_s: 1, sustained_s: 3, max_gap_s: 5 },
            { type: 'drop', series: 'cell_voltages_v', fraction: 0.25, reference_window_s: 60 },
          ],
        },
        { type: 'gb_alarm', bits: [23], min_level: null },
      ],
    }
    expect(conditionSummary(zh, runaway as never)).toBe(
      '(各探头温度变化率 ≥ 1 °C/s，持续超过 3 秒 且 各单体电压较 60 秒 内最高值跌落超过 25%) 或 国标报警位 23',
    )
    expect(actionsSummary(zh, H2)).toBe('设置上报周期 (interval_ms=500)；解除时：设置上报周期 (interval_ms=1000)')
    expect(actionsSummary(en, SOC_LOW)).toBe('—')
  })
})
