/**
 * Live refresh for the fleet pages: alarm pushes arrive in bursts (a thermal event raises
 * several alarms within a second), so a page reloads its read model through a coalescer —
 * at most once per `minIntervalMs`, a short settle time after the first push of a burst — and
 * never runs two reloads at once. `useTenantLiveFeed` starts the live feed once the session
 * knows its tenant (the topics are tenant-scoped) and adds a slow freshness reload, because
 * operational statuses (offline after 5 min, SOC) change without any alarm event.
 */
import { onBeforeUnmount, onMounted, watch } from 'vue'
import { startLiveFeed, type LiveFeedOptions } from '@/live/useLiveFeed'
import { useSession } from '@/stores/session'

export interface CoalescerOptions {
  /** Minimum time between the starts of two runs, ms. */
  minIntervalMs?: number
  /** Wait this long after a trigger so a burst of pushes makes one run, ms. */
  settleMs?: number
  now?: () => number
}

export interface Coalescer {
  trigger(): void
  /** Run now (a user's refresh), still never two at once. */
  flush(): Promise<void>
  cancel(): void
}

export function createCoalescer(fn: () => Promise<unknown> | unknown, opts: CoalescerOptions = {}): Coalescer {
  const minInterval = opts.minIntervalMs ?? 2000
  const settle = opts.settleMs ?? 250
  const now = opts.now ?? (() => Date.now())
  let timer: ReturnType<typeof setTimeout> | null = null
  let last = Number.NEGATIVE_INFINITY
  let running: Promise<void> | null = null
  let pending = false
  let cancelled = false

  const run = async (): Promise<void> => {
    timer = null
    last = now()
    try {
      await fn()
    } catch {
      // The page shows its own error state; a failed live reload must not stop later ones.
    }
  }

  const start = (): Promise<void> => {
    running = run().finally(() => {
      running = null
      if (pending && !cancelled) {
        pending = false
        trigger()
      }
    })
    return running
  }

  function trigger(): void {
    if (cancelled) return
    if (running) {
      pending = true
      return
    }
    if (timer) return
    const t = now()
    const at = Math.max(t + settle, last + minInterval)
    timer = setTimeout(() => void start(), at - t)
  }

  return {
    trigger,
    async flush() {
      if (timer) {
        clearTimeout(timer)
        timer = null
      }
      if (running) {
        pending = true
        return running
      }
      return start()
    },
    cancel() {
      cancelled = true
      if (timer) clearTimeout(timer)
      timer = null
    },
  }
}

export interface TenantFeedOptions {
  /** The feed for one tenant (topics are tenant-scoped). */
  build: (tenant: string) => Omit<LiveFeedOptions, 'channel'>
  /** Reload this often even while live (statuses age without pushes); 0 = never. */
  freshnessMs?: number
  freshness?: () => unknown
  /** Restart the feed when this changes too (e.g. the route's device). */
  restartOn?: () => unknown
}

/** A component's live feed, (re)started for the session's tenant; stops on unmount. */
export function useTenantLiveFeed(opts: TenantFeedOptions): void {
  const session = useSession()
  let stopFeed: (() => void) | null = null
  let stopWatch: (() => void) | null = null
  let fresh: ReturnType<typeof setInterval> | null = null
  onMounted(() => {
    stopWatch = watch(
      () => [session.tenant, opts.restartOn?.()] as const,
      ([tenant]) => {
        stopFeed?.()
        stopFeed = tenant ? startLiveFeed(opts.build(tenant)) : null
      },
      { immediate: true },
    )
    if (opts.freshnessMs && opts.freshness) {
      const f = opts.freshness
      fresh = setInterval(() => {
        if (globalThis.document?.visibilityState !== 'hidden') void f()
      }, opts.freshnessMs)
    }
  })
  onBeforeUnmount(() => {
    stopWatch?.()
    stopFeed?.()
    if (fresh) clearInterval(fresh)
  })
}
