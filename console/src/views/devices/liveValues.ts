/**
 * A device's live values (LCM-MON-1..3, SLW-MON-1) from either source: the latest stored state
 * (`GET /v1/devices/{thing}/state`, with the extremes derived at ingest) or a telemetry uplink
 * pushed over MQTT (the raw device body: extremes are derived here the same way as
 * shared/domain/telemetry/extremes.py — dropouts skipped, never zero; numbers 1-based).
 * A push older than what is shown (out-of-order delivery, a poll racing a push) is ignored.
 */
import type { Schemas } from '@/api/client'
import type { Reading } from './cellCharts'

export interface NumberedExtreme {
  value: number
  /** 1-based cell or probe number. */
  no: number
}

export interface CabinetSensors {
  h2_ppm: number | null
  co_ppm: number | null
  smoke_detected: boolean | null
  flame_detected: boolean | null
  water_ingress: boolean | null
  door_open: boolean | null
  module_pressure_kpa: number | null
  breaker_closed: boolean | null
}

export interface LiveValues {
  kind: string | null
  /** Device time of the sample, UTC ms. */
  deviceTsMs: number
  /** When the platform (stored state) or this browser (push) received it, UTC ms. */
  receivedMs: number
  state: string | null
  packVoltageV: number | null
  currentA: number | null
  socPct: number | null
  insulationKohm: number | null
  powerKw: number | null
  maxCell: NumberedExtreme | null
  minCell: NumberedExtreme | null
  spreadMv: number | null
  maxTemp: NumberedExtreme | null
  minTemp: NumberedExtreme | null
  missingCells: number
  missingTemps: number
  cells: Reading[]
  probes: Reading[]
  /** Storage cabinets only: the safety sensors; null for other kinds. */
  sensors: CabinetSensors | null
}

type Obj = Record<string, unknown>

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null)
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)
const readings = (v: unknown): Reading[] => (Array.isArray(v) ? v.map((x) => num(x)) : [])

function extremes(values: readonly Reading[]): { max: NumberedExtreme; min: NumberedExtreme } | null {
  let max: NumberedExtreme | null = null
  let min: NumberedExtreme | null = null
  values.forEach((v, i) => {
    if (v === null) return
    if (!max || v > max.value) max = { value: v, no: i + 1 }
    if (!min || v < min.value) min = { value: v, no: i + 1 }
  })
  return max && min ? { max, min } : null
}

function numbered(derived: Obj | null, valueKey: string, noKey: string): NumberedExtreme | null {
  const value = num(derived?.[valueKey])
  const no = num(derived?.[noKey])
  return value === null ? null : { value, no: no ?? 0 }
}

/** Live values of one telemetry body (+ stored derived values when there are any). */
export function liveValuesFrom(body: unknown, deviceTsMs: number | null, receivedMs: number, derived: unknown = null): LiveValues | null {
  if (!isObj(body)) return null
  const kind = str(body.kind)
  if (kind !== null && kind !== 'battery_pack' && kind !== 'storage_cabinet') return null
  const ts = deviceTsMs ?? num(body.device_ts_ms)
  if (ts === null) return null
  const cells = readings(body.cell_voltages_v)
  const probes = readings(body.probe_temperatures_c)
  const d = isObj(derived) && 'cell_count' in derived ? derived : null
  const ce = extremes(cells)
  const pe = extremes(probes)
  const packV = num(body.pack_voltage_v)
  const current = num(body.current_a)
  const maxCell = d ? numbered(d, 'max_cell_voltage_v', 'max_cell_voltage_no') : (ce?.max ?? null)
  const minCell = d ? numbered(d, 'min_cell_voltage_v', 'min_cell_voltage_no') : (ce?.min ?? null)
  const spread = maxCell && minCell ? Math.round((maxCell.value - minCell.value) * 10000) / 10 : null
  return {
    kind,
    deviceTsMs: ts,
    receivedMs,
    state: str(body.state),
    packVoltageV: packV,
    currentA: current,
    socPct: num(body.soc_pct),
    insulationKohm: num(body.insulation_resistance_kohm),
    powerKw: num(d?.power_kw) ?? (packV !== null && current !== null ? Math.round(packV * current) / 1000 : null),
    maxCell,
    minCell,
    spreadMv: spread,
    maxTemp: d ? numbered(d, 'max_temperature_c', 'max_temperature_probe_no') : (pe?.max ?? null),
    minTemp: d ? numbered(d, 'min_temperature_c', 'min_temperature_probe_no') : (pe?.min ?? null),
    missingCells: cells.filter((v) => v === null).length,
    missingTemps: probes.filter((v) => v === null).length,
    cells,
    probes,
    sensors:
      kind === 'storage_cabinet'
        ? {
            h2_ppm: num(body.h2_ppm),
            co_ppm: num(body.co_ppm),
            smoke_detected: bool(body.smoke_detected),
            flame_detected: bool(body.flame_detected),
            water_ingress: bool(body.water_ingress),
            door_open: bool(body.door_open),
            module_pressure_kpa: num(body.module_pressure_kpa),
            breaker_closed: bool(body.breaker_closed),
          }
        : null,
  }
}

/** Live values of the stored latest state (null when the device never sent telemetry). */
export function liveValuesFromState(state: Schemas['LatestState']): LiveValues | null {
  const entry = state.state.telemetry
  if (!entry) return null
  return liveValuesFrom(entry.body, entry.device_ts_ms, entry.arrival_ms, entry.derived ?? null)
}

/** Whether `next` should replace what is shown (same or newer device time). */
export function isNewer(next: LiveValues, shown: LiveValues | null): boolean {
  return shown === null || next.deviceTsMs >= shown.deviceTsMs
}

export type SensorTone = 'ok' | 'warning' | 'danger' | 'fault' | 'info'

export interface SensorRow {
  key: keyof CabinetSensors
  /** i18n key of the value text (booleans) or null for numbers. */
  textKey: string | null
  value: number | null
  unit: string
  tone: SensorTone
}

const ALARM_FLAGS: readonly (keyof CabinetSensors)[] = ['smoke_detected', 'flame_detected', 'water_ingress']

/** The environment panel of a storage cabinet: one row per sensor; a null boolean is a sensor fault. */
export function sensorRows(s: CabinetSensors): SensorRow[] {
  const flag = (key: keyof CabinetSensors): SensorRow => {
    const v = s[key] as boolean | null
    if (v === null) return { key, textKey: 'devices.env.sensorFault', value: null, unit: '', tone: 'fault' }
    if (ALARM_FLAGS.includes(key))
      return { key, textKey: v ? 'devices.env.detected' : 'devices.env.normal', value: null, unit: '', tone: v ? 'danger' : 'ok' }
    if (key === 'door_open')
      return { key, textKey: v ? 'devices.env.open' : 'devices.env.closed', value: null, unit: '', tone: v ? 'warning' : 'ok' }
    // breaker_closed: closed is the normal operating position.
    return { key, textKey: v ? 'devices.env.closed' : 'devices.env.open', value: null, unit: '', tone: v ? 'ok' : 'warning' }
  }
  const gauge = (key: keyof CabinetSensors, unit: string): SensorRow => {
    const v = s[key] as number | null
    return v === null
      ? { key, textKey: 'devices.env.sensorFault', value: null, unit, tone: 'fault' }
      : { key, textKey: null, value: v, unit, tone: 'info' }
  }
  return [
    gauge('h2_ppm', 'ppm'),
    gauge('co_ppm', 'ppm'),
    flag('smoke_detected'),
    flag('flame_detected'),
    flag('water_ingress'),
    flag('door_open'),
    gauge('module_pressure_kpa', 'kPa'),
    flag('breaker_closed'),
  ]
}
