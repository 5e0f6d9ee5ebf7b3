// A misbehaving provider and a fake homeserver: a real HTTP server whose behaviour is chosen by
// the first path segments, so one server serves every scenario: `/h/<scenario>` is an issuer,
// `/hs/<mode>` a homeserver base URL. Documents are built from the real provider's own
// metadata, so only the one thing under test is wrong.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { LabProvider } from './lab.ts'
import { drip, sendHuge } from './bad-bodies.ts'
import { createMintOp } from './mint-op.ts'

export interface Hostile {
  url: string
  server: Server
  close(): Promise<void>
}

export async function startHostile(shared: LabProvider): Promise<Hostile> {
  const realIssuer = shared.issuer
  const real = (await (await fetch(`${realIssuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>
  const timers = new Set<NodeJS.Timeout>()
  const server = createServer((req, res) =>
    handle(req, res).catch(() => {
      res.statusCode = 500
      res.end()
    }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const mint = await createMintOp(base)

  const json = (res: ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(typeof body === 'string' ? body : JSON.stringify(body))
  }
  const doc = (scenario: string, patch: Record<string, unknown> = {}) => {
    const d: Record<string, unknown> = { ...real, issuer: `${base}/h/${scenario}`, ...patch }
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete d[k]
    return d
  }
  const unrecognized = (res: ServerResponse) => json(res, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' }, 404)

  // A homeserver's whoami, answered from the shared provider's own token store.
  async function whoami(req: IncomingMessage, res: ServerResponse, mode: string) {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''
    const at = token ? await shared.provider.AccessToken.find(token) : undefined
    if (!at || at.isExpired) return json(res, { errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid access token' }, 401)
    if (mode === 'whoami-500') return json(res, { errcode: 'M_UNKNOWN' }, 500)
    const device = /urn:matrix:(?:org\.matrix\.msc2967\.)?client:device:(\S+)/.exec(at.scope ?? '')?.[1]
    const body: Record<string, unknown> = { user_id: `@${at.accountId}:hs.test` }
    if (mode === 'other-device') body.device_id = 'SOMEOTHERDEVICE'
    else if (mode !== 'no-device' && device) body.device_id = device
    return json(res, body)
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? '/', base).pathname
    if (await mint(req, res, path)) return
    if (path === '/.well-known/matrix/client') return json(res, { 'm.homeserver': { base_url: `${base}/hs/v1` } })

    const hs = /^\/hs\/([\w-]+)(\/.*)$/.exec(path)
    if (hs) {
      const [, mode, rest] = hs
      if (rest === '/_matrix/client/v3/account/whoami') return whoami(req, res, mode ?? '')
      if (rest === '/_matrix/client/v1/auth_metadata') {
        if (mode === 'v1' || mode === 'no-device' || mode === 'other-device' || mode === 'whoami-500') return json(res, real)
        if (mode === 'unstable-scopes') {
          const scopes = (real.scopes_supported as string[]).filter((s) => !s.startsWith('urn:matrix:'))
          return json(res, { ...real, scopes_supported: scopes })
        }
        if (mode === 'broken') return json(res, { errcode: 'M_UNKNOWN' }, 500)
        if (mode === 'insecure-issuer') return json(res, { ...real, issuer: 'https://10.0.0.1' })
        return unrecognized(res)
      }
      if (rest === '/_matrix/client/unstable/org.matrix.msc2965/auth_metadata') {
        return mode === 'unstable' ? json(res, real) : unrecognized(res)
      }
      if (rest === '/_matrix/client/unstable/org.matrix.msc2965/auth_issuer') {
        return mode === 'issuer' ? json(res, { issuer: realIssuer }) : unrecognized(res)
      }
      return unrecognized(res)
    }

    // RFC 8414 puts the issuer's path after the well-known segment.
    const oauthPath = /^\/\.well-known\/oauth-authorization-server\/h\/([\w-]+)$/.exec(path)
    if (oauthPath) {
      const s = oauthPath[1] ?? ''
      if (s === 'oauth-only') return json(res, doc(s))
      if (s === 'oauth-no-pkce-list') return json(res, doc(s, { code_challenge_methods_supported: undefined }))
      return json(res, { error: 'not_found' }, 404)
    }

    const m = /^\/h\/([\w-]+)(\/.*)$/.exec(path)
    if (!m) return json(res, { error: 'not_found' }, 404)
    const [, s = '', rest] = m
    if (rest === '/reg') {
      if (s === 'reg-error') return json(res, { error: 'invalid_client_metadata', error_description: 'redirect_uris are bad' }, 400)
      res.writeHead(500, { 'content-type': 'text/html' })
      return res.end('<html><body>Internal error</body></html>')
    }
    if (rest === '/doc') return json(res, doc(s))
    if (rest !== '/.well-known/openid-configuration') return json(res, { error: 'not_found' }, 404)

    switch (s) {
      case 'ok':
        return json(res, doc(s), 200, { 'cache-control': 'public, max-age=120' })
      case 'wrong-issuer':
        return json(res, doc(s, { issuer: realIssuer }))
      case 'trailing-slash-issuer':
        return json(res, doc(s, { issuer: `${base}/h/${s}/` }))
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html' })
        return res.end('<!doctype html><html><body>Welcome</body></html>')
      case 'not-json':
        return json(res, '{"issuer": ')
      case 'text-json':
        res.writeHead(200, { 'content-type': 'text/plain' })
        return res.end(JSON.stringify(doc(s)))
      case 'array':
        return json(res, [doc(s)])
      case 'huge':
        return sendHuge(req, res)
      case 'huge-declared':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) })
        return res.end()
      case 'slow': {
        const t = setTimeout(() => json(res, doc(s)), 30_000)
        timers.add(t)
        req.socket.on('close', () => clearTimeout(t))
        return
      }
      case 'drip':
        return drip(req, res, (t) => timers.add(t))
      case 'status-500':
        return json(res, { error: 'server_error' }, 500)
      case 'redirect-other':
        res.writeHead(302, { location: `${realIssuer}/.well-known/openid-configuration` })
        return res.end()
      case 'redirect-same':
        res.writeHead(302, { location: `/h/${s}/doc` })
        return res.end()
      case 'redirect-loop':
        res.writeHead(302, { location: `/h/${s}/.well-known/openid-configuration` })
        return res.end()
      case 'no-s256':
        return json(res, doc(s, { code_challenge_methods_supported: ['plain'] }))
      case 'no-pkce-list':
        return json(res, doc(s, { code_challenge_methods_supported: undefined }))
      case 'no-code':
        return json(res, doc(s, { response_types_supported: ['token'] }))
      case 'no-token-endpoint':
        return json(res, doc(s, { token_endpoint: undefined }))
      case 'no-registration':
      case 'static-only':
        return json(res, doc(s, { registration_endpoint: undefined }))
      case 'reg-error':
      case 'reg-html':
        return json(res, doc(s, { registration_endpoint: `${base}/h/${s}/reg` }))
      case 'only-private-key-jwt':
        return json(res, doc(s, { token_endpoint_auth_methods_supported: ['private_key_jwt'] }))
      default:
        return json(res, { error: 'not_found' }, 404)
    }
  }

  return {
    url: base,
    server,
    close: async () => {
      for (const t of timers) clearTimeout(t)
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
