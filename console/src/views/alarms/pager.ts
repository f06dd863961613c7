/**
 * Token pagination over one or more newest-first sources, merged newest first (LCM-AL-3). The API
 * filters one status per query; "open" alarms are two sources (active, acknowledged). Each source
 * keeps its own buffer and next_token; a page takes the newest head until it is full, fetching a
 * source's next page only when its buffer runs dry, so the merged order is exact.
 */
export interface Page<T> {
  items: T[]
  next_token: string | null
}

export type Fetch<T> = (token: string | null) => Promise<Page<T>>

interface Source<T> {
  fetch: Fetch<T>
  buffer: T[]
  token: string | null
  started: boolean
}

export class MergedPager<T> {
  private sources: Source<T>[]
  private seen = new Set<string>()

  constructor(
    fetches: Fetch<T>[],
    private readonly compare: (a: T, b: T) => number,
    private readonly keyOf: (item: T) => string,
  ) {
    this.sources = fetches.map((fetch) => ({ fetch, buffer: [], token: null, started: false }))
  }

  private exhausted(s: Source<T>): boolean {
    return s.started && s.buffer.length === 0 && s.token === null
  }

  /** No page left to load. */
  get done(): boolean {
    return this.sources.every((s) => this.exhausted(s))
  }

  private async fill(): Promise<void> {
    const dry = this.sources.filter((s) => s.buffer.length === 0 && (!s.started || s.token !== null))
    await Promise.all(
      dry.map(async (s) => {
        const page = await s.fetch(s.started ? s.token : null)
        s.started = true
        s.token = page.next_token
        s.buffer.push(...page.items)
      }),
    )
  }

  /** The next `size` items (fewer on the last page). */
  async next(size: number): Promise<T[]> {
    const out: T[] = []
    while (out.length < size) {
      await this.fill()
      let best: Source<T> | null = null
      for (const s of this.sources) {
        if (s.buffer.length && (!best || this.compare(s.buffer[0], best.buffer[0]) < 0)) best = s
      }
      if (!best) break
      const item = best.buffer.shift() as T
      const key = this.keyOf(item)
      // An alarm acknowledged between two fetches can appear in both sources: keep the first.
      if (this.seen.has(key)) continue
      this.seen.add(key)
      out.push(item)
    }
    return out
  }
}
