// A/B runs: every system measured in each run, finely interleaved — a run is a series of short
// slices, one per system in rotating order (ABC ABC … / BCA BCA …), so that interference from
// anything else on a shared machine, which varies over seconds, hits every system alike. Each
// run pools its slices per system and yields its own ratio; the report gives their median.
import type { Ctx } from '../lib/context.ts'
import { load, type LoadOpts, type LoadResult, merge } from '../lib/load.ts'
import { sleep } from '../lib/procs.ts'
import { median, range, round } from '../lib/stats.ts'

export type Measured = Omit<LoadResult, 'samples'> & {
  /** Requests the provider received during the run, per request served. */
  providerRequestsPerRequest: number
  providerRequestsByRoute: Record<string, number>
}

export interface Side {
  name: string
  opts: Omit<LoadOpts, 'connections' | 'durationS' | 'maxRequests'>
  /** The expected status of every answer. */
  expectStatus: number
}

export interface ABRun {
  run: number
  order: string
  loaded: Record<string, Measured>
  idle: Record<string, Measured>
}

/** Slices per system per run and mode. */
export const SLICES = 5

export async function abRuns(ctx: Ctx, sides: Side[]): Promise<ABRun[]> {
  const s = ctx.settings
  const measure = async (order: Side[], connections: number, seconds: number): Promise<Record<string, Measured>> => {
    const parts: Record<string, LoadResult[]> = {}
    const provider: Record<string, number> = {}
    const routes: Record<string, Record<string, number>> = {}
    for (let slice = 0; slice < SLICES; slice++) {
      for (const side of order) {
        await ctx.provider.reset()
        const r = await load({
          ...side.opts,
          connections,
          durationS: seconds / SLICES,
          maxRequests: Math.ceil(s.maxRequestsPerRun / SLICES),
        })
        // Subrequests still in flight when the load stops belong to this slice.
        await sleep(100)
        const counts = await ctx.provider.counts()
        provider[side.name] = (provider[side.name] ?? 0) + counts.requests
        const rt = (routes[side.name] ??= {})
        for (const [k, v] of Object.entries(counts.byRoute)) rt[k] = (rt[k] ?? 0) + v
        ;(parts[side.name] ??= []).push(r)
      }
    }
    const out: Record<string, Measured> = {}
    for (const side of order) {
      const { samples: _drop, cpuMs: _cpu, ...m } = merge(parts[side.name]!)
      const wrong = m.requests - (m.statuses[side.expectStatus] ?? 0)
      if (wrong > 0) ctx.log(`  ! ${side.name}: ${wrong} answers were not ${side.expectStatus}: ${JSON.stringify(m.statuses)}`)
      out[side.name] = {
        ...m,
        providerRequestsPerRequest: m.requests ? provider[side.name]! / m.requests : 0,
        providerRequestsByRoute: routes[side.name] ?? {},
      }
    }
    return out
  }
  // Warm-up: caches, JIT, connections.
  for (const side of sides)
    await load({ ...side.opts, connections: s.connections, durationS: Math.min(2, s.loadSeconds), maxRequests: 2000 })
  await sleep(300) // the warm-up's subrequests still in flight must not count for the first slice
  const runs: ABRun[] = []
  for (let run = 0; run < s.runs; run++) {
    const k = run % sides.length
    const order = sides.length === 2 && run % 2 === 1 ? [sides[1]!, sides[0]!] : [...sides.slice(k), ...sides.slice(0, k)]
    const loaded = await measure(order, s.connections, s.loadSeconds)
    const idle = await measure(order, 1, s.idleSeconds)
    runs.push({ run, order: order.map((x) => x.name).join('→'), loaded, idle })
    ctx.log(
      `  run ${run + 1}/${s.runs}: ` +
        sides
          .map(
            (x) =>
              `${x.name} ${round(loaded[x.name]!.rps, 0)} req/s p50 ${round(loaded[x.name]!.latencyMs.p50)} ms (1 conn. p50 ${round(idle[x.name]!.latencyMs.p50, 2)} ms)`,
          )
          .join(' | '),
    )
  }
  return runs
}

export interface SideSummary {
  loaded: { rps: number; p50: number; p99: number; rpsRange: [number, number] }
  idle: { p50: number; p99: number; rps: number }
  cpuMsPerRequest: { workerd: number; wrangler: number } | undefined
  providerRequestsPerRequest: number
  requests: number
}

export function summarize(runs: ABRun[], name: string): SideSummary {
  const L = runs.map((r) => r.loaded[name]!)
  const I = runs.map((r) => r.idle[name]!)
  const cpu = L.map((x) => x.cpuMsPerRequest).filter((x) => x !== undefined)
  return {
    loaded: {
      rps: median(L.map((x) => x.rps)),
      p50: median(L.map((x) => x.latencyMs.p50)),
      p99: median(L.map((x) => x.latencyMs.p99)),
      rpsRange: range(L.map((x) => x.rps)),
    },
    idle: { p50: median(I.map((x) => x.latencyMs.p50)), p99: median(I.map((x) => x.latencyMs.p99)), rps: median(I.map((x) => x.rps)) },
    cpuMsPerRequest: cpu.length ? { workerd: median(cpu.map((c) => c.workerd)), wrangler: median(cpu.map((c) => c.wrangler)) } : undefined,
    providerRequestsPerRequest: median([...L, ...I].map((x) => x.providerRequestsPerRequest)),
    requests: [...L, ...I].reduce((n, x) => n + x.requests, 0),
  }
}

export interface Ratio {
  median: number
  range: [number, number]
  perRun: number[]
}

export interface Ratios {
  /** a's figure ÷ b's, per run; then the median and range over the runs. */
  loadedRps: Ratio
  loadedP50: Ratio
  loadedP99: Ratio
  idleP50: Ratio
  idleP99: Ratio
  cpuPerRequest?: Ratio
}

export function ratios(runs: ABRun[], a: string, b: string): Ratios {
  const r = (f: (x: ABRun) => number): Ratio => {
    const perRun = runs.map(f).map((x) => round(x, 3))
    return { median: round(median(perRun), 3), range: range(perRun), perRun }
  }
  const cpu = runs.every((x) => x.loaded[a]!.cpuMsPerRequest && x.loaded[b]!.cpuMsPerRequest)
  return {
    loadedRps: r((x) => x.loaded[a]!.rps / x.loaded[b]!.rps),
    loadedP50: r((x) => x.loaded[a]!.latencyMs.p50 / x.loaded[b]!.latencyMs.p50),
    loadedP99: r((x) => x.loaded[a]!.latencyMs.p99 / x.loaded[b]!.latencyMs.p99),
    idleP50: r((x) => x.idle[a]!.latencyMs.p50 / x.idle[b]!.latencyMs.p50),
    idleP99: r((x) => x.idle[a]!.latencyMs.p99 / x.idle[b]!.latencyMs.p99),
    ...(cpu ? { cpuPerRequest: r((x) => x.loaded[a]!.cpuMsPerRequest!.workerd / x.loaded[b]!.cpuMsPerRequest!.workerd) } : {}),
  }
}
