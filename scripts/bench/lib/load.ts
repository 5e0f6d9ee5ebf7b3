// One bounded autocannon run (v9, in-process): closed loop with `connections` keep-alive
// connections, at most `durationS` seconds and `maxRequests` requests. Latencies are taken from
// autocannon's per-response event at full (sub-millisecond) precision, every status counted
// (a 302 is the expected answer of a login redirect). CPU time of the target's process group is
// read from /proc before and after.
import autocannon from 'autocannon'
import { cpuOf, type DevServer } from './procs.ts'
import { type Dist, dist } from './stats.ts'

export interface LoadOpts {
  url: string
  method?: string
  headers?: Record<string, string>
  body?: string
  connections: number
  durationS: number
  maxRequests: number
  /** Per request: extra headers (e.g. another session handle each time). */
  headersFor?: (i: number) => Record<string, string>
  dev?: DevServer
}

export interface LoadResult {
  requests: number
  seconds: number
  rps: number
  latencyMs: Dist
  statuses: Record<string, number>
  errors: number
  timeouts: number
  /** CPU ms per request of workerd, and of the rest of the wrangler process group (node). */
  cpuMsPerRequest?: { workerd: number; wrangler: number }
  /** Raw material for merging slices: every latency, and the CPU ms spent. */
  samples: number[]
  cpuMs?: { workerd: number; wrangler: number }
}

/** Several runs of one system as one: latencies pooled, requests and seconds and CPU summed. */
export function merge(parts: LoadResult[]): LoadResult {
  const samples = parts.flatMap((p) => p.samples)
  const seconds = parts.reduce((a, p) => a + p.seconds, 0)
  const statuses: Record<string, number> = {}
  for (const p of parts) for (const [k, v] of Object.entries(p.statuses)) statuses[k] = (statuses[k] ?? 0) + v
  const cpu = parts.every((p) => p.cpuMs)
    ? { workerd: parts.reduce((a, p) => a + p.cpuMs!.workerd, 0), wrangler: parts.reduce((a, p) => a + p.cpuMs!.wrangler, 0) }
    : undefined
  return {
    requests: samples.length,
    seconds,
    rps: samples.length / seconds,
    latencyMs: dist(samples),
    statuses,
    errors: parts.reduce((a, p) => a + p.errors, 0),
    timeouts: parts.reduce((a, p) => a + p.timeouts, 0),
    ...(cpu && samples.length
      ? { cpuMsPerRequest: { workerd: cpu.workerd / samples.length, wrangler: cpu.wrangler / samples.length }, cpuMs: cpu }
      : {}),
    samples,
  }
}

export function load(o: LoadOpts): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = []
    const statuses: Record<string, number> = {}
    let i = 0
    const cpu0 = o.dev ? cpuOf(o.dev) : undefined
    const t0 = performance.now()
    const base = { method: o.method ?? 'GET', headers: o.headers ?? {}, ...(o.body !== undefined ? { body: o.body } : {}) }
    const inst = autocannon(
      {
        url: o.url,
        connections: o.connections,
        pipelining: 1,
        duration: o.durationS,
        // autocannon checks its stop flag once per sample interval (1 s by default): 50 ms
        // makes sub-second runs end on time.
        sampleInt: 50,
        timeout: 10,
        ...base,
        ...(o.headersFor
          ? {
              requests: [
                {
                  ...base,
                  setupRequest: (req) => ({ ...req, headers: { ...base.headers, ...o.headersFor!(i++) } }),
                },
              ],
            }
          : {}),
      },
      (err, result) => {
        clearTimeout(guard)
        if (err) return reject(err)
        const seconds = (performance.now() - t0) / 1000
        const cpu1 = o.dev ? cpuOf(o.dev) : undefined
        const n = latencies.length
        resolve({
          requests: n,
          seconds,
          rps: n / seconds,
          latencyMs: dist(latencies),
          statuses,
          errors: result.errors,
          timeouts: result.timeouts,
          ...(cpu0 && cpu1 && n
            ? {
                cpuMsPerRequest: { workerd: (cpu1.workerdMs - cpu0.workerdMs) / n, wrangler: (cpu1.otherMs - cpu0.otherMs) / n },
                cpuMs: { workerd: cpu1.workerdMs - cpu0.workerdMs, wrangler: cpu1.otherMs - cpu0.otherMs },
              }
            : {}),
          samples: latencies,
        })
      },
    )
    inst.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      latencies.push(ms)
      statuses[status] = (statuses[status] ?? 0) + 1
      if (latencies.length >= o.maxRequests) inst.stop()
    })
    // autocannon stops at `duration` by itself; this is the belt to its braces.
    const guard = setTimeout(() => inst.stop(), (o.durationS + 15) * 1000)
  })
}
