declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'
  interface Options {
    url: string
    method?: string
    headers?: Record<string, string>
    body?: string
    connections?: number
    pipelining?: number
    duration?: number
    amount?: number
    timeout?: number
    sampleInt?: number
    requests?: Array<{
      method?: string
      path?: string
      headers?: Record<string, string>
      body?: string
      setupRequest?: (req: Record<string, unknown>, ctx: Record<string, unknown>) => Record<string, unknown>
    }>
  }
  interface Result {
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    requests: { total: number; average: number }
    latency: { p50: number; p99: number; average: number; max: number }
  }
  interface Instance extends EventEmitter {
    stop(): void
  }
  function autocannon(opts: Options, cb: (err: Error | null, result: Result) => void): Instance
  export default autocannon
}
