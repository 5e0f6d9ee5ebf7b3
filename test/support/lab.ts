// Node side of the test harness (runs in globalSetup): real oidc-provider instances that tests
// spawn on demand (each with its own request counters and injectable faults), behind a small
// control API that the tests in workerd reach over loopback.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type LocalProvider, type LocalProviderOptions, startLocalProvider } from '../../local/provider.ts'

export interface Fault {
  /** `METHOD /path` the fault applies to. */
  route: string
  status?: number
  /** Delay before answering (or before passing on, with `status` unset). */
  delayMs?: number
  body?: string
  contentType?: string
  /** How many requests it hits; unset = until cleared. */
  times?: number
}

export interface LabProvider extends LocalProvider {
  counts: Map<string, number>
  faults: Fault[]
  /** When each `METHOD /path` arrived (ms since the epoch), e.g. to check polling intervals. */
  times: Map<string, number[]>
}

export type SpawnOptions = Pick<LocalProviderOptions, 'rotateRefreshTokens' | 'accessTokenTtl' | 'clients'>

export async function spawnProvider(opts: SpawnOptions = {}): Promise<LabProvider> {
  const counts = new Map<string, number>()
  const faults: Fault[] = []
  const times = new Map<string, number[]>()
  const p = await startLocalProvider({
    ...opts,
    intercept: (req, res, path) => {
      const route = `${req.method} ${path}`
      counts.set(route, (counts.get(route) ?? 0) + 1)
      const seen = times.get(route) ?? []
      seen.push(Date.now())
      times.set(route, seen)
      // Also by answer: `POST /token → 400` counts refused grants (e.g. a reused refresh token).
      res.on('finish', () => {
        const k = `${route} → ${res.statusCode}`
        counts.set(k, (counts.get(k) ?? 0) + 1)
      })
      const i = faults.findIndex((f) => f.route === route)
      const fault = faults[i]
      if (!fault) return false
      if (fault.times !== undefined && --fault.times <= 0) faults.splice(i, 1)
      if (fault.status === undefined) {
        // Delay only: hold the request, then let the provider answer it.
        req.pause()
        setTimeout(() => {
          req.resume()
          p.server.emit('request-after-fault', req, res)
        }, fault.delayMs ?? 0)
        return true
      }
      setTimeout(() => {
        if (res.destroyed) return
        res.statusCode = fault.status ?? 500
        res.setHeader('content-type', fault.contentType ?? 'application/json')
        res.end(fault.body ?? JSON.stringify({ error: 'server_error' }))
      }, fault.delayMs ?? 0)
      return true
    },
  })
  const handler = p.provider.callback()
  p.server.on('request-after-fault', (req: IncomingMessage, res: ServerResponse) => handler(req, res))
  return Object.assign(p, { counts, faults, times })
}

async function readBody(req: IncomingMessage): Promise<string> {
  let s = ''
  for await (const chunk of req) s += chunk
  return s
}

/** POST /providers → {id, issuer}; GET /providers/:id/counts; GET /providers/:id/clients/:client_id; POST|DELETE /providers/:id/faults. */
/** Provider 0 is the shared one every test may use; tests that count spawn their own. */
export async function startLab(): Promise<{ url: string; server: Server; providers: LabProvider[]; close(): Promise<void> }> {
  const providers: LabProvider[] = [await spawnProvider()]
  const server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.statusCode = status
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(body))
    }
    try {
      const path = new URL(req.url ?? '/', 'http://lab').pathname
      if (req.method === 'POST' && path === '/providers') {
        const body = await readBody(req)
        const p = await spawnProvider(body ? (JSON.parse(body) as SpawnOptions) : {})
        providers.push(p)
        return send(201, { id: providers.length - 1, issuer: p.issuer })
      }
      const c = /^\/providers\/(\d+)\/clients\/([^/]+)$/.exec(path)
      const pc = c ? providers[Number(c[1])] : undefined
      if (c && pc && req.method === 'GET') {
        const client = await pc.provider.Client.find(decodeURIComponent(c[2] ?? ''))
        return client ? send(200, client.metadata()) : send(404, { error: 'not_found' })
      }
      const t = /^\/providers\/(\d+)\/introspect$/.exec(path)
      const pt = t ? providers[Number(t[1])] : undefined
      if (t && pt && req.method === 'POST') {
        // What the provider itself thinks of a token (no client auth needed: this is the lab).
        const token = await readBody(req)
        const at = await pt.provider.AccessToken.find(token)
        const rt = at ? undefined : await pt.provider.RefreshToken.find(token)
        const found = at ?? rt
        return send(200, {
          active: !!found && !found.isExpired && !(rt && rt.consumed),
          kind: at ? 'access_token' : rt ? 'refresh_token' : null,
          scope: found?.scope ?? null,
        })
      }
      const rv = /^\/providers\/(\d+)\/revoke$/.exec(path)
      const prv = rv ? providers[Number(rv[1])] : undefined
      if (rv && prv && req.method === 'POST') {
        // Make an access token invalid at the provider, as a resource server would then see it.
        const at = await prv.provider.AccessToken.find(await readBody(req))
        await at?.destroy()
        return send(200, { revoked: !!at })
      }
      const tm = /^\/providers\/(\d+)\/times$/.exec(path)
      const ptm = tm ? providers[Number(tm[1])] : undefined
      if (tm && ptm && req.method === 'GET') return send(200, Object.fromEntries(ptm.times))
      const m = /^\/providers\/(\d+)\/(counts|faults)$/.exec(path)
      const p = m ? providers[Number(m[1])] : undefined
      if (!m || !p) return send(404, { error: 'not_found' })
      if (m[2] === 'counts' && req.method === 'GET') return send(200, Object.fromEntries(p.counts))
      if (m[2] === 'faults' && req.method === 'POST') {
        p.faults.push(JSON.parse(await readBody(req)) as Fault)
        return send(200, {})
      }
      if (m[2] === 'faults' && req.method === 'DELETE') {
        p.faults.length = 0
        return send(200, {})
      }
      return send(405, { error: 'method_not_allowed' })
    } catch (e) {
      send(500, { error: String(e) })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    server,
    providers,
    close: async () => {
      await Promise.all(providers.map((p) => p.close()))
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
