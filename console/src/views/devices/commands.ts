/**
 * Operator commands (SLW-CTL-1/2, SLW-IF-1): which commands and parameters the API accepts
 * (mirrors shared/domain/commands/params.py, so a bad value is caught before the request; the
 * API still checks and its 4xx message is shown), the request body, and a command's progress
 * from the live CommandRecord pushes.
 */
import type { Schemas } from '@/api/client'

export type CommandName = Schemas['CommandName']
export type CommandStatus = Schemas['CommandStatus']
export type CommandRecord = Schemas['CommandRecord']
export type SendCommand = Schemas['SendCommand']

/** In the order the dialog offers them: the harmless first, the protective ones last. */
export const OPERATOR_COMMANDS: readonly CommandName[] = [
  'restart',
  'fault_reset',
  'set_reporting_interval',
  'set_parameters',
  'stop_charge',
  'stop_discharge',
  'cut_off',
]

/** Commands that interrupt the pack's operation: the confirmation warns. */
export const DISRUPTIVE: ReadonlySet<CommandName> = new Set<CommandName>(['cut_off', 'stop_charge', 'stop_discharge', 'restart'])

export interface ParamSpec {
  key: string
  low: number
  high: number
  integer: boolean
  exclusiveMin: boolean
  step: number
  unit: string
}

const spec = (key: string, low: number, high: number, unit: string, o: Partial<ParamSpec> = {}): ParamSpec => ({
  key,
  low,
  high,
  unit,
  integer: false,
  exclusiveMin: false,
  step: 1,
  ...o,
})

export const COMMAND_PARAMS: Readonly<Record<CommandName, readonly ParamSpec[]>> = {
  restart: [],
  fault_reset: [],
  stop_charge: [],
  stop_discharge: [],
  cut_off: [],
  set_reporting_interval: [spec('interval_ms', 100, 600_000, 'ms', { integer: true, step: 100 })],
  set_parameters: [
    spec('max_charge_current_a', 0, 3000, 'A', { exclusiveMin: true, step: 1 }),
    spec('max_discharge_current_a', 0, 3000, 'A', { exclusiveMin: true, step: 1 }),
    spec('max_temperature_c', 0, 120, '°C', { step: 1 }),
    spec('min_temperature_c', -40, 40, '°C', { step: 1 }),
  ],
}

/** Commands whose every parameter is required (the others with parameters need at least one). */
const ALL_REQUIRED: ReadonlySet<CommandName> = new Set<CommandName>(['set_reporting_interval'])

export const REASON_MAX = 500

export type ParamValues = Record<string, number | null | undefined>

export interface FormError {
  /** The field: a parameter key, 'reason', or 'params' for the group. */
  field: string
  /** i18n key under devices.command.errors. */
  code: 'required' | 'atLeastOne' | 'range' | 'rangeExclusive' | 'integer' | 'minBelowMax' | 'reasonRequired' | 'reasonTooLong'
  named: Record<string, unknown>
}

const given = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v)

/** Every problem of a command form (empty = it may be sent). */
export function validateCommand(name: CommandName, values: ParamValues, reason: string): FormError[] {
  const errors: FormError[] = []
  const specs = COMMAND_PARAMS[name]
  const present = specs.filter((s) => given(values[s.key]))
  for (const s of specs) {
    const v = values[s.key]
    if (!given(v)) {
      if (ALL_REQUIRED.has(name)) errors.push({ field: s.key, code: 'required', named: {} })
      continue
    }
    const above = s.exclusiveMin ? v > s.low : v >= s.low
    if (!above || v > s.high)
      errors.push({ field: s.key, code: s.exclusiveMin ? 'rangeExclusive' : 'range', named: { low: s.low, high: s.high, unit: s.unit } })
    else if (s.integer && !Number.isInteger(v)) errors.push({ field: s.key, code: 'integer', named: {} })
  }
  if (specs.length && !ALL_REQUIRED.has(name) && present.length === 0) errors.push({ field: 'params', code: 'atLeastOne', named: {} })
  if (name === 'set_parameters') {
    const lo = values.min_temperature_c
    const hi = values.max_temperature_c
    if (given(lo) && given(hi) && lo >= hi) errors.push({ field: 'min_temperature_c', code: 'minBelowMax', named: {} })
  }
  const r = reason.trim()
  if (!r) errors.push({ field: 'reason', code: 'reasonRequired', named: {} })
  else if (r.length > REASON_MAX) errors.push({ field: 'reason', code: 'reasonTooLong', named: { max: REASON_MAX } })
  return errors
}

/** The parameters actually sent: only the command's own, only those given. */
export function commandParams(name: CommandName, values: ParamValues): Record<string, number> {
  const out: Record<string, number> = {}
  for (const s of COMMAND_PARAMS[name]) {
    const v = values[s.key]
    if (given(v)) out[s.key] = s.integer ? Math.round(v) : v
  }
  return out
}

/** A fresh idempotency key: one per confirmed dialog, reused if the same send is retried. */
export function newIdempotencyKey(random: () => string = () => globalThis.crypto.randomUUID()): string {
  return `console-${random()}`
}

/** Seconds a command stays valid (the API's default): a device never executes it later. */
export const DEFAULT_TTL_S = 30

export function sendBody(
  name: CommandName,
  values: ParamValues,
  reason: string,
  idempotencyKey: string,
  ttlS = DEFAULT_TTL_S,
): SendCommand {
  return { name, params: commandParams(name, values), reason: reason.trim(), idempotency_key: idempotencyKey, ttl_s: ttlS }
}

export const FINAL: ReadonlySet<CommandStatus> = new Set<CommandStatus>(['acked', 'rejected', 'failed', 'expired'])

export function isFinal(status: CommandStatus): boolean {
  return FINAL.has(status)
}

/** el-steps position of a status: recorded → sent → answered. */
export function progressStep(status: CommandStatus): number {
  if (status === 'pending') return 1
  if (status === 'sent') return 2
  return 3
}

/** el-tag type of a command status. */
export function statusTone(status: CommandStatus): 'info' | 'primary' | 'success' | 'danger' | 'warning' {
  switch (status) {
    case 'acked':
      return 'success'
    case 'rejected':
    case 'failed':
      return 'danger'
    case 'expired':
      return 'warning'
    case 'sent':
      return 'primary'
    default:
      return 'info'
  }
}

/** A pushed or polled record into the device's list: newest first, a stale update never wins. */
export function upsertCommand(list: readonly CommandRecord[], record: CommandRecord, limit = 20): CommandRecord[] {
  const existing = list.find((c) => c.command_id === record.command_id)
  if (existing && existing.updated_at_ms > record.updated_at_ms) return [...list]
  const rest = list.filter((c) => c.command_id !== record.command_id)
  return [record, ...rest].sort((a, b) => b.issued_at_ms - a.issued_at_ms).slice(0, limit)
}

/**
 * What the platform pushes on the tenant's commands stream (shared/domain/commands/service.py
 * `_console`): a status summary, not the whole record — no params, reason or times.
 */
export interface CommandUpdate {
  type: 'command_status'
  command_id: string
  thing_name: string
  name: CommandName
  status: CommandStatus
  ack_status: string | null
  ack_reason: string | null
  ack_overdue: boolean
  origin: string
  issued_at_ms: number
  updated_at_ms: number
}

const STATUSES: readonly string[] = ['pending', 'sent', 'acked', 'rejected', 'failed', 'expired']

/** A push on the commands stream about this device (a status update or a whole record), else null. */
export function commandPushFor(payload: unknown, thing: string): CommandUpdate | CommandRecord | null {
  if (typeof payload !== 'object' || payload === null) return null
  const p = payload as Record<string, unknown>
  if (p.thing_name !== thing || typeof p.command_id !== 'string' || !STATUSES.includes(p.status as string)) return null
  if (typeof p.updated_at_ms !== 'number' || typeof p.issued_at_ms !== 'number') return null
  if (typeof p.origin === 'object' && p.origin !== null && typeof p.reason === 'string') return p as unknown as CommandRecord
  return p as unknown as CommandUpdate
}

const isRecord = (x: CommandUpdate | CommandRecord): x is CommandRecord => typeof x.origin === 'object'

/**
 * Apply a push to the device's list. A status update merges into the record it is about (a
 * stale one never wins); `known: false` means the list lacks the command (an automatic
 * command, or one sent from another console) and should be reloaded for the whole record.
 */
export function applyCommandPush(
  list: readonly CommandRecord[],
  push: CommandUpdate | CommandRecord,
): { list: CommandRecord[]; known: boolean } {
  if (isRecord(push)) return { list: upsertCommand(list, push), known: true }
  const existing = list.find((c) => c.command_id === push.command_id)
  if (!existing) return { list: [...list], known: false }
  if (existing.updated_at_ms > push.updated_at_ms) return { list: [...list], known: true }
  const merged: CommandRecord = {
    ...existing,
    status: push.status,
    ack_status: push.ack_status,
    ack_reason: push.ack_reason,
    updated_at_ms: push.updated_at_ms,
    detail: { ...existing.detail, ack_overdue: push.ack_overdue },
  }
  return { list: upsertCommand(list, merged), known: true }
}

/** The platform flagged that the device has not answered in time. */
export function ackOverdue(c: CommandRecord): boolean {
  return c.detail?.ack_overdue === true && !isFinal(c.status)
}
