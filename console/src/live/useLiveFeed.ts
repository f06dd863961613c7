/**
 * A page's live data: handle pushes while the channel is live; poll while it is down (the
 * fallback), and poll once when it comes back so nothing missed in between is lost.
 */
import { onMounted, onBeforeUnmount, watch } from 'vue'
import { live, type LiveChannel, type LiveHandler } from './channel'

export interface LiveFeedOptions {
  /** MQTT filters to follow (already tenant-scoped; see ./topics). */
  filters: string[]
  onMessage: LiveHandler
  /** Reload from the API (the fallback and the catch-up). */
  poll: () => Promise<unknown> | unknown
  /** Polling period while the live channel is down, ms. */
  intervalMs?: number
  channel?: LiveChannel
}

export function startLiveFeed(opts: LiveFeedOptions): () => void {
  const channel = opts.channel ?? live
  const interval = opts.intervalMs ?? 10_000
  const unsubs = opts.filters.map((f) => channel.subscribe(f, opts.onMessage))
  let timer: ReturnType<typeof setInterval> | null = null
  const setPolling = (on: boolean) => {
    if (on && !timer) timer = setInterval(() => void opts.poll(), interval)
    if (!on && timer) {
      clearInterval(timer)
      timer = null
    }
  }
  let previous = channel.status.value
  const stopWatch = watch(channel.status, (s) => {
    setPolling(s !== 'live')
    if (s === 'live' && previous !== 'live') void opts.poll()
    previous = s
  })
  setPolling(channel.status.value !== 'live')
  return () => {
    stopWatch()
    setPolling(false)
    unsubs.forEach((u) => u())
  }
}

/** Component form: starts on mount, stops on unmount. */
export function useLiveFeed(opts: LiveFeedOptions): void {
  let stop: (() => void) | null = null
  onMounted(() => {
    stop = startLiveFeed(opts)
  })
  onBeforeUnmount(() => stop?.())
}
