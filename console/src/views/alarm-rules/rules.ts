/**
 * Alarm rule sets as the console sees them (ARC-3, SLW-WEB-3, SLW-EW-5): scopes, the overlay of
 * platform default → tenant → model → device (a port of shared/domain/alarms/rulesets.py
 * `resolve`, so a draft can be previewed before it is saved), and the draft of the scope being
 * edited.
 */
import type { Schemas } from '@/api/client'

export type Rule = Schemas['AlarmRule-Output']
export type RuleInput = Schemas['AlarmRule-Input']
export type Condition = Rule['condition']
export type RuleSetVersion = Schemas['RuleSetVersion']
export type DeviceKind = Schemas['DeviceKind']

// ---- scopes ------------------------------------------------------------------------------------

export type ScopeKind = 'tenant' | 'model' | 'device'
export interface Scope {
  kind: ScopeKind
  /** Model id or thing name ('' for the tenant). */
  id: string
}

/** shared/contracts/alarms.py SCOPE_PATTERN. */
export const SCOPE_RE = /^(tenant|model:[A-Za-z0-9][A-Za-z0-9_.-]{0,63}|device:[A-Za-z0-9_-]{1,128})$/
export const TENANT: Scope = Object.freeze({ kind: 'tenant', id: '' })

export function scopeString(s: Scope): string {
  return s.kind === 'tenant' ? 'tenant' : `${s.kind}:${s.id}`
}

export function parseScope(raw: string | null | undefined): Scope | null {
  if (!raw || !SCOPE_RE.test(raw)) return null
  if (raw === 'tenant') return { ...TENANT }
  const [kind, id] = [raw.slice(0, raw.indexOf(':')), raw.slice(raw.indexOf(':') + 1)]
  return { kind: kind as ScopeKind, id }
}

/** The scopes whose latest versions overlay the defaults for `scope` (in order, `scope` last). */
export function layerScopes(scope: Scope, deviceModelId?: string | null): string[] {
  if (scope.kind === 'tenant') return ['tenant']
  if (scope.kind === 'model') return ['tenant', `model:${scope.id}`]
  return ['tenant', ...(deviceModelId ? [`model:${deviceModelId}`] : []), `device:${scope.id}`]
}

// ---- overlay -----------------------------------------------------------------------------------

export interface Layer {
  scope: string
  version: number
  rules: Rule[]
  disabled: string[]
}

export interface EffectiveRow {
  rule: Rule
  /** 'default' or the scope that set it last. */
  source: string
  sourceVersion: number
  /** Switched off by a scope's `disabled` list. */
  switchedOff: boolean
  /** Runs: the rule's own flag and not switched off. */
  active: boolean
}

export function versionLabel(defaultsVersion: number, layers: readonly Layer[]): string {
  return [`default@${defaultsVersion}`, ...layers.map((l) => `${l.scope}@${l.version}`)].join('+')
}

/**
 * Overlay `layers` on the defaults (by rule id; a later layer re-defining a rule lifts an earlier
 * switch-off), keep the rules of `kind` (all when null). Same semantics as the API's `resolve`.
 */
export function resolve(
  defaults: { version: number; rules: readonly Rule[] },
  layers: readonly Layer[],
  kind: DeviceKind | null,
): { label: string; rows: EffectiveRow[]; disabled: string[] } {
  const byId = new Map<string, { rule: Rule; source: string; sourceVersion: number }>()
  for (const r of defaults.rules) byId.set(r.rule_id, { rule: r, source: 'default', sourceVersion: defaults.version })
  const disabled = new Set<string>()
  for (const layer of layers) {
    for (const r of layer.rules) {
      byId.set(r.rule_id, { rule: r, source: layer.scope, sourceVersion: layer.version })
      disabled.delete(r.rule_id)
    }
    for (const id of layer.disabled) disabled.add(id)
  }
  const rows: EffectiveRow[] = []
  for (const e of byId.values()) {
    if (kind !== null && !e.rule.kinds.includes(kind)) continue
    const switchedOff = disabled.has(e.rule.rule_id)
    rows.push({ ...e, switchedOff, active: e.rule.enabled && !switchedOff })
  }
  return { label: versionLabel(defaults.version, layers), rows, disabled: [...disabled].sort() }
}

// ---- the draft of one scope ----------------------------------------------------------------------

export interface Draft {
  rules: Rule[]
  disabled: string[]
}

export function draftOf(v: Pick<RuleSetVersion, 'rules' | 'disabled'> | null): Draft {
  return { rules: v ? v.rules.map(cloneRule) : [], disabled: v ? [...v.disabled].sort() : [] }
}

export function cloneRule<R extends Rule>(r: R): R {
  return JSON.parse(JSON.stringify(r)) as R
}

/** Stable JSON (sorted keys), for equality and display. */
export function canonical(v: unknown): string {
  return JSON.stringify(sortKeys(v))
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    )
  }
  return v
}

export function sameRule(a: Rule | null | undefined, b: Rule | null | undefined): boolean {
  return canonical(a ?? null) === canonical(b ?? null)
}

export function sameDraft(a: Draft, b: Draft): boolean {
  const sort = (d: Draft) => ({
    rules: [...d.rules].sort((x, y) => x.rule_id.localeCompare(y.rule_id)),
    disabled: [...new Set(d.disabled)].sort(),
  })
  return canonical(sort(a)) === canonical(sort(b))
}

/** Add or replace a rule of the scope (override of an inherited rule, or a new one). */
export function upsertRule(d: Draft, rule: Rule): Draft {
  const i = d.rules.findIndex((r) => r.rule_id === rule.rule_id)
  const rules = [...d.rules]
  if (i >= 0) rules[i] = cloneRule(rule)
  else rules.push(cloneRule(rule))
  return { ...d, rules }
}

/** Remove the scope's own definition (the inherited rule applies again). */
export function removeRule(d: Draft, ruleId: string): Draft {
  return { ...d, rules: d.rules.filter((r) => r.rule_id !== ruleId) }
}

/**
 * Switch a rule off in this scope, or on again. A rule a lower scope switched off (`offBelow`) comes
 * back on only by being defined here (a later scope re-defining a rule lifts the switch-off).
 */
export function switchRule(d: Draft, rule: Rule, on: boolean, offBelow: boolean): Draft {
  const id = rule.rule_id
  if (!on) return d.disabled.includes(id) ? d : { ...d, disabled: [...d.disabled, id].sort() }
  const without = { ...d, disabled: d.disabled.filter((x) => x !== id) }
  const own = d.rules.find((r) => r.rule_id === id)
  const base = own ?? rule
  return offBelow || (own && !own.enabled) || !rule.enabled ? upsertRule(without, { ...base, enabled: true }) : without
}

/** Rows of the effective set of the scope with the draft in place of its saved version. */
export function previewRows(
  defaults: { version: number; rules: readonly Rule[] },
  lower: readonly Layer[],
  scope: string,
  draft: Draft,
  kind: DeviceKind | null,
): ReturnType<typeof resolve> {
  return resolve(defaults, [...lower, { scope, version: 0, rules: draft.rules, disabled: draft.disabled }], kind)
}
