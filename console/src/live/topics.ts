/** The MQTT topics the console reads (mirrors shared/contracts/topics.py; read-only). */
export const CONSOLE_ROOT = 'voltops/console/v1'
export type ConsoleStream = 'alarms' | 'notifications' | 'commands'

export function consoleTopic(tenant: string, stream: ConsoleStream): string {
  return `${CONSOLE_ROOT}/${tenant}/${stream}`
}

/** A device's uplink of one type; `thing` may be '+' for every device of the tenant. */
export function uplinkTopic(tenant: string, thing: string, type: 'telemetry' | 'position' | 'event' | 'ack'): string {
  return `voltops/v1/${tenant}/${thing}/up/${type}`
}

/** MQTT filter matching ('+' one level, '#' the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
}
