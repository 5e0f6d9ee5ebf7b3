// A small HTTP/1.1 client over node:http (keep-alive agents, explicit socket limits, a
// deadline on every request) and a cookie-jar "browser" that follows redirects by hand.
import http from 'node:http'

export interface Res {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  ms: number
}

export interface ReqOpts {
  method?: string
  headers?: Record<string, string>
  body?: string
  agent?: http.Agent
  timeoutMs?: number
}

export const defaultAgent = new http.Agent({ keepAlive: true, maxSockets: 64 })

export function request(url: string, opts: ReqOpts = {}): Promise<Res> {
  const u = new URL(url)
  if (u.hostname !== '127.0.0.1') return Promise.reject(new Error(`only loopback: ${url}`))
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body))
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: opts.method ?? 'GET',
        headers,
        agent: opts.agent ?? defaultAgent,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - t0,
          }),
        )
        res.on('error', reject)
      },
    )
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`timeout: ${opts.method ?? 'GET'} ${u.pathname}`)))
    req.on('error', reject)
    req.end(opts.body)
  })
}

export const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}, agent?: http.Agent) {
  return request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    ...(agent ? { agent } : {}),
  })
}

/** Cookies per host (paths ignored: sending a cookie too many is harmless here). */
export class Jar {
  private jar = new Map<string, Map<string, string>>()
  header(host: string): string {
    return [...(this.jar.get(host) ?? [])].map(([k, v]) => `${k}=${v}`).join('; ')
  }
  take(host: string, setCookie: string[] | undefined) {
    for (const line of setCookie ?? []) {
      const [pair = '', ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const jar = this.jar.get(host) ?? new Map<string, string>()
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /expires=thu, 01 jan 1970/i.test(a)) || value === '') jar.delete(name)
      else jar.set(name, value)
      this.jar.set(host, jar)
    }
  }
  async get(url: string, agent?: http.Agent): Promise<Res> {
    const u = new URL(url)
    const cookie = this.header(u.host)
    const res = await request(url, { headers: cookie ? { cookie } : {}, ...(agent ? { agent } : {}) })
    this.take(u.host, res.headers['set-cookie'])
    return res
  }
  /** Follows redirects until one points at `stop` (origin + path); returns that URL, unfetched. */
  async follow(url: string, stop: string, max = 20, agent?: http.Agent): Promise<URL> {
    let next = url
    for (let i = 0; i < max; i++) {
      const u = new URL(next)
      if (u.origin + u.pathname === stop) return u
      const res = await this.get(next, agent)
      const location = res.headers.location
      if (res.status < 300 || res.status >= 400 || !location) {
        throw new Error(`redirects stopped at ${u.origin}${u.pathname} with ${res.status}: ${res.body.slice(0, 300)}`)
      }
      next = new URL(location, next).href
    }
    throw new Error('too many redirects')
  }
}
