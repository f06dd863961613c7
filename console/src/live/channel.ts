/**
 * The live channel: MQTT over WebSocket (IoT Core with the console custom authorizer in AWS,
 * the local gateway in front of mosquitto locally). The ID token is the MQTT password; the
 * authorizer allows only the tenant's console streams and device uplinks, read-only.
 * Subscriptions are reference-counted and restored after every reconnect.
 */
import type { MqttClient } from 'mqtt'
import { ref, type Ref } from 'vue'
import { topicMatches } from './topics'

export type LiveStatus = 'off' | 'connecting' | 'live' | 'down'
export type LiveHandler = (topic: string, payload: unknown) => void

export interface LiveOptions {
  url: string
  authorizer: string | null
  subject: string
  token: () => Promise<string | null>
}

export function clientId(subject: string, random = Math.random): string {
  const suffix = Math.floor(random() * 0xffffffff).toString(16).padStart(8, '0')
  return `console-${subject}-${suffix}`
}

/** IoT Core custom auth over WSS names the authorizer in the URL's query string. */
export function connectUrl(url: string, authorizer: string | null): string {
  if (!authorizer) return url
  const sep = url.includes('?') ? '&' : '?'
  return `${url}${sep}x-amz-customauthorizer-name=${encodeURIComponent(authorizer)}`
}

export class LiveChannel {
  readonly status: Ref<LiveStatus> = ref('off')
  /** Messages received since start (for the status tooltip and tests). */
  readonly received = ref(0)
  private client: MqttClient | null = null
  private handlers = new Map<string, Set<LiveHandler>>()

  private generation = 0

  async start(opts: LiveOptions): Promise<void> {
    this.stop()
    const generation = ++this.generation
    const token = await opts.token()
    if (!token) return
    this.setStatus('connecting')
    // mqtt.js loads after the first render (it is not needed to draw a page).
    const { default: mqtt } = await import('mqtt')
    if (this.generation !== generation) return
    const client = mqtt.connect(connectUrl(opts.url, opts.authorizer), {
      protocolVersion: 4,
      clientId: clientId(opts.subject),
      username: opts.authorizer ? `?x-amz-customauthorizer-name=${opts.authorizer}` : 'console',
      password: token,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 3000,
      connectTimeout: 10_000,
      resubscribe: true,
    })
    this.client = client
    client.on('connect', () => {
      this.setStatus('live')
      const filters = [...this.handlers.keys()]
      if (filters.length) client.subscribe(filters, { qos: 0 })
    })
    client.on('close', () => {
      if (this.client === client) this.setStatus('down')
    })
    client.on('offline', () => this.setStatus('down'))
    client.on('error', () => this.setStatus('down'))
    // Tokens expire hourly: give the next reconnect a fresh one.
    client.on('reconnect', () => {
      void opts.token().then((t) => {
        if (t) client.options.password = t
      })
      this.setStatus('connecting')
    })
    client.on('message', (topic, payload) => {
      this.received.value++
      let body: unknown
      try {
        body = JSON.parse(new TextDecoder().decode(payload))
      } catch {
        return // not ours: every platform push is JSON
      }
      for (const [filter, set] of this.handlers) {
        if (!topicMatches(filter, topic)) continue
        for (const h of set) h(topic, body)
      }
    })
  }

  stop(): void {
    this.generation++
    if (this.client) {
      const c = this.client
      this.client = null
      c.end(true)
    }
    this.setStatus('off')
  }

  /** Subscribe a handler to a filter; returns the unsubscribe function. */
  subscribe(filter: string, handler: LiveHandler): () => void {
    let set = this.handlers.get(filter)
    if (!set) {
      set = new Set()
      this.handlers.set(filter, set)
      if (this.client?.connected) this.client.subscribe(filter, { qos: 0 })
    }
    set.add(handler)
    return () => {
      const s = this.handlers.get(filter)
      if (!s) return
      s.delete(handler)
      if (s.size === 0) {
        this.handlers.delete(filter)
        if (this.client?.connected) this.client.unsubscribe(filter)
      }
    }
  }

  private setStatus(s: LiveStatus): void {
    if (this.status.value === s) return
    this.status.value = s
  }
}

export const live = new LiveChannel()
