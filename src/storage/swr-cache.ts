// A two-level read-through cache (isolate memory, then KV) with stale-while-revalidate and one
// in-flight load per key per isolate. A warm hit costs no I/O at all: no KV read, no fetch.

export interface Loaded<T> {
  value: T
  /** How long the value is fresh, in seconds (already clamped by the loader's policy). */
  ttlSeconds: number
}

interface Entry<T> {
  value: T
  freshUntil: number
  staleUntil: number
}

export interface CacheOptions {
  /** How long after freshness ends a value may still be served while it is refetched. */
  staleSeconds: number
  /** Memory bound per isolate; the oldest entries go first. */
  maxEntries: number
}

export interface CacheContext {
  kv: KVNamespace
  waitUntil: (p: Promise<unknown>) => void
  now?: () => number
}

export class SwrCache<T> {
  private readonly memory = new Map<string, Entry<T>>()
  private readonly inflight = new Map<string, Promise<Entry<T>>>()

  constructor(private readonly options: CacheOptions) {}

  async get(key: string, ctx: CacheContext, load: () => Promise<Loaded<T>>): Promise<T> {
    const now = (ctx.now ?? Date.now)()
    let entry = this.memory.get(key)
    if (!entry || entry.staleUntil <= now) {
      entry = (await ctx.kv.get<Entry<T>>(key, 'json').catch(() => null)) ?? undefined
      if (entry && entry.staleUntil > now) this.remember(key, entry)
      else entry = undefined
    }
    if (entry && entry.freshUntil > now) return entry.value
    if (entry) {
      // Stale: answer now, refetch in the background; a failed refetch keeps the stale value.
      ctx.waitUntil(this.refresh(key, ctx, load).catch(() => {}))
      return entry.value
    }
    return (await this.refresh(key, ctx, load)).value
  }

  /** Drop a key everywhere (e.g. a registration the provider no longer knows). */
  async delete(key: string, kv: KVNamespace): Promise<void> {
    this.memory.delete(key)
    await kv.delete(key)
  }

  /** Put a value known to be current (e.g. from the object that owns it). */
  async put(key: string, ctx: CacheContext, loaded: Loaded<T>): Promise<void> {
    await this.store(key, ctx, loaded)
  }

  private refresh(key: string, ctx: CacheContext, load: () => Promise<Loaded<T>>): Promise<Entry<T>> {
    let p = this.inflight.get(key)
    if (!p) {
      p = load()
        .then((loaded) => this.store(key, ctx, loaded))
        .finally(() => this.inflight.delete(key))
      this.inflight.set(key, p)
    }
    return p
  }

  private async store(key: string, ctx: CacheContext, loaded: Loaded<T>): Promise<Entry<T>> {
    const now = (ctx.now ?? Date.now)()
    const entry: Entry<T> = {
      value: loaded.value,
      freshUntil: now + loaded.ttlSeconds * 1000,
      staleUntil: now + (loaded.ttlSeconds + this.options.staleSeconds) * 1000,
    }
    this.remember(key, entry)
    // KV's minimum expiration is 60 s; the entry's own staleUntil is what counts.
    const expirationTtl = Math.max(60, loaded.ttlSeconds + this.options.staleSeconds)
    ctx.waitUntil(ctx.kv.put(key, JSON.stringify(entry), { expirationTtl }).catch(() => {}))
    return entry
  }

  private remember(key: string, entry: Entry<T>): void {
    this.memory.delete(key)
    this.memory.set(key, entry)
    if (this.memory.size > this.options.maxEntries) {
      const oldest = this.memory.keys().next().value
      if (oldest !== undefined) this.memory.delete(oldest)
    }
  }
}

/** max-age (or s-maxage) from a Cache-Control header, clamped to [min, max] seconds; `dflt` when absent. */
export function ttlFromCacheControl(header: string | null, minSeconds: number, maxSeconds: number, dflt: number): number {
  const cc = (header ?? '').toLowerCase()
  if (/\b(no-store|no-cache)\b/.test(cc)) return minSeconds
  const m = /\bs-maxage=(\d+)/.exec(cc) ?? /\bmax-age=(\d+)/.exec(cc)
  const s = m ? Number(m[1]) : dflt
  return Math.min(maxSeconds, Math.max(minSeconds, s))
}
