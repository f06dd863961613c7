/**
 * What changes between two versions of a scope's rule set (SLW-WEB-3, LCM-SEC-6): rules added,
 * removed and changed, with a field-level side-by-side view, and rule ids switched off or on.
 * `diffDrafts` is a port of the API's `diff` (shared/domain/alarms/rulesets.py), used to preview
 * an unsaved draft; saved versions are compared by the API (`GET /v1/alarm-rules/diff`).
 */
import type { Schemas } from '@/api/client'
import { alarmTitleOf, type Translator } from '@/alarms/text'
import { canonical, sameRule, type Draft, type Rule } from './rules'

export type RuleSetDiff = Schemas['RuleSetDiff']
/**
 * `override`: added in this scope over an inherited rule (fields compared with the inherited one);
 * `revert`: this scope's definition removed, the inherited rule applies again.
 */
export type ChangeKind = 'added' | 'removed' | 'changed' | 'override' | 'revert'

export function diffDrafts(scope: string, a: Draft | null, b: Draft | null, fromVersion = 0, toVersion = 0): RuleSetDiff {
  const before = new Map((a?.rules ?? []).map((r) => [r.rule_id, r]))
  const after = new Map((b?.rules ?? []).map((r) => [r.rule_id, r]))
  const ids = [...new Set([...before.keys(), ...after.keys()])].sort()
  const changes: RuleSetDiff['changes'] = []
  for (const id of ids) {
    const x = before.get(id) ?? null
    const y = after.get(id) ?? null
    if (!x) changes.push({ rule_id: id, change: 'added', before: null, after: y })
    else if (!y) changes.push({ rule_id: id, change: 'removed', before: x, after: null })
    else if (!sameRule(x, y)) changes.push({ rule_id: id, change: 'changed', before: x, after: y })
  }
  const da = new Set(a?.disabled ?? [])
  const db = new Set(b?.disabled ?? [])
  return {
    scope,
    from_version: fromVersion,
    to_version: toVersion,
    changes,
    disabled_added: [...db].filter((x) => !da.has(x)).sort(),
    disabled_removed: [...da].filter((x) => !db.has(x)).sort(),
  }
}

/** A rule as `path → JSON value` leaves (`condition.limit.factor`, `actions[0].command`). */
export function flatten(v: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (Array.isArray(v)) {
    if (!v.length) out[prefix] = '[]'
    v.forEach((x, i) => flatten(x, `${prefix}[${i}]`, out))
  } else if (v && typeof v === 'object') {
    const keys = Object.keys(v as Record<string, unknown>).sort()
    if (!keys.length) out[prefix] = '{}'
    for (const k of keys) flatten((v as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k, out)
  } else {
    out[prefix] = canonical(v ?? null)
  }
  return out
}

export interface FieldChange {
  path: string
  before: string | null
  after: string | null
  kind: ChangeKind
}

/** Field-level changes between two rules (null = the rule did not exist on that side). */
export function fieldChanges(before: Rule | null, after: Rule | null): FieldChange[] {
  const a = before ? flatten(before) : {}
  const b = after ? flatten(after) : {}
  const paths = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(comparePaths)
  const out: FieldChange[] = []
  for (const p of paths) {
    const x = p in a ? a[p] : null
    const y = p in b ? b[p] : null
    if (x === y) continue
    out.push({ path: p, before: x, after: y, kind: x === null ? 'added' : y === null ? 'removed' : 'changed' })
  }
  return out
}

/** rule_id, level, enabled first; then the condition, then actions; array items in order. */
function comparePaths(a: string, b: string): number {
  const rank = (p: string) => {
    const head = p.split(/[.[]/, 1)[0]
    const order = ['rule_id', 'kinds', 'level', 'enabled', 'auto_clear', 'condition', 'actions', 'clear_actions']
    const i = order.indexOf(head)
    return i < 0 ? order.length : i
  }
  const r = rank(a) - rank(b)
  if (r) return r
  return a.replace(/\[(\d+)\]/g, (_, n: string) => `[${n.padStart(4, '0')}]`).localeCompare(b.replace(/\[(\d+)\]/g, (_, n: string) => `[${n.padStart(4, '0')}]`))
}

export interface RuleChangeView {
  ruleId: string
  title: string
  change: ChangeKind
  fields: FieldChange[]
}

export interface DiffView {
  changes: RuleChangeView[]
  disabledAdded: { ruleId: string; title: string }[]
  disabledRemoved: { ruleId: string; title: string }[]
  empty: boolean
  counts: Record<ChangeKind, number>
}

/**
 * The view of a diff. With `inherited` (the rules the scope overlays, by id), a rule added over an
 * inherited one is shown as an override compared with it, and a removed one as a revert to it.
 */
export function diffView(tr: Translator, d: RuleSetDiff, inherited?: ReadonlyMap<string, Rule>): DiffView {
  const title = (id: string) => alarmTitleOf(tr, { code: id })
  const changes = d.changes.map((c): RuleChangeView => {
    const base = inherited?.get(c.rule_id) ?? null
    const before = c.before ?? null
    const after = c.after ?? null
    if (c.change === 'added' && base) {
      return { ruleId: c.rule_id, title: title(c.rule_id), change: 'override', fields: fieldChanges(base, after) }
    }
    if (c.change === 'removed' && base) {
      return { ruleId: c.rule_id, title: title(c.rule_id), change: 'revert', fields: fieldChanges(before, base) }
    }
    const change = (['added', 'removed', 'changed'].includes(c.change) ? c.change : 'changed') as ChangeKind
    return { ruleId: c.rule_id, title: title(c.rule_id), change, fields: fieldChanges(before, after) }
  })
  const counts: Record<ChangeKind, number> = { added: 0, removed: 0, changed: 0, override: 0, revert: 0 }
  for (const c of changes) counts[c.change]++
  return {
    changes,
    disabledAdded: d.disabled_added.map((id) => ({ ruleId: id, title: title(id) })),
    disabledRemoved: d.disabled_removed.map((id) => ({ ruleId: id, title: title(id) })),
    empty: !changes.length && !d.disabled_added.length && !d.disabled_removed.length,
    counts,
  }
}
