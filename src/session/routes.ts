// The session handle's API: handle (Bearer) → session id → the Session object, one RPC.
import { Hono } from 'hono'
import { discoverTarget } from '../discovery/target'
import { authenticateApp } from '../http/app-auth'
import { BrokerError, unwrap } from '../http/errors'
import { type AppEnv, type Ctx, originOf, runtimeOf } from '../http/types'
import { limitBody, readJson, readQuery } from '../http/validate'
import { startLogin } from '../login/authorize'
import { getRegistration } from '../registration/service'
import { AccountQuery, EmptyBody, ImportBody, LogoutBody, ScopeBody, TokenBody } from '../api/requests'
import { sessionStub } from './handles'
import { checkImportedTokens } from './import'

const INVALID = 'The session handle is unknown, revoked or malformed.'
const bearerChallenge = { 'WWW-Authenticate': 'Bearer realm="broker"' }

/** The handle from `Authorization: Bearer`, or (WebSockets from browsers) a `session.<handle>` subprotocol. */
function handleOf(c: Ctx, allowSubprotocol = false): { handle: string; subprotocol?: string } {
  const m = /^Bearer ([\w.-]{1,256})$/.exec(c.req.header('authorization') ?? '')
  if (m?.[1]) return { handle: m[1] }
  if (allowSubprotocol) {
    const offered = (c.req.header('sec-websocket-protocol') ?? '').split(',').map((s) => s.trim())
    const h = offered.find((p) => p.startsWith('session.'))
    if (h) return { handle: h.slice('session.'.length), ...(offered.includes('broker') ? { subprotocol: 'broker' } : {}) }
  }
  throw new BrokerError('invalid_session', INVALID, bearerChallenge)
}

function stubOf(c: Ctx, allowSubprotocol = false) {
  const { handle, subprotocol } = handleOf(c, allowSubprotocol)
  return { ...sessionStub(c.env, handle, 'invalid_session', INVALID, bearerChallenge), subprotocol }
}

const noStore = (c: Ctx) => c.header('Cache-Control', 'no-store')

export const sessionRoutes = new Hono<AppEnv>()
  .get('/v1/session', async (c) => {
    const { stub, secret } = stubOf(c)
    noStore(c)
    return c.json(unwrap(await stub.info(secret)))
  })
  .post('/v1/session/token', limitBody, async (c) => {
    const { stub, secret } = stubOf(c)
    const body = await readJson(c, TokenBody, { optional: true })
    const answer = unwrap(
      await stub.token(secret, { min_ttl: body.min_ttl ?? 60, stale_token_sha256: body.stale_token_sha256, force: false }),
    )
    noStore(c)
    return c.json(answer)
  })
  .post('/v1/session/refresh', limitBody, async (c) => {
    const { stub, secret } = stubOf(c)
    await readJson(c, EmptyBody, { optional: true })
    const answer = unwrap(await stub.token(secret, { min_ttl: 0, force: true }))
    noStore(c)
    return c.json(answer)
  })
  .post('/v1/session/logout', limitBody, async (c) => {
    const { stub, secret } = stubOf(c)
    const body = await readJson(c, LogoutBody, { optional: true })
    noStore(c)
    return c.json(unwrap(await stub.logout(secret, body)))
  })
  .get('/v1/session/account', async (c) => {
    const { stub, secret } = stubOf(c)
    const q = readQuery(c, AccountQuery)
    noStore(c)
    return c.json(unwrap(await stub.account(secret, q)))
  })
  .post('/v1/session/scope', limitBody, async (c) => {
    const rt = runtimeOf(c)
    const { stub, secret } = stubOf(c)
    const body = await readJson(c, ScopeBody)
    const ctx = unwrap(await stub.scopeContext(secret))
    const app = rt.config.apps.get(ctx.app)
    if (!app) throw new BrokerError('invalid_session', INVALID, bearerChallenge)
    if (!app.return_urls.includes(body.return_to))
      throw new BrokerError('invalid_request', 'return_to is not one of the app’s return URLs.')
    // Ask for what the session has plus what is new, so the new tokens do not lose scope.
    const scope = [...new Set([...ctx.scope.split(' ').filter(Boolean), ...body.scope.split(' ')])].join(' ')
    const target = ctx.homeserver ? { homeserver: ctx.homeserver } : { issuer: ctx.issuer }
    const start = await startLogin(
      rt,
      app,
      body.return_to,
      { ...target, ...(body.state !== undefined ? { state: body.state } : {}) },
      originOf(c, rt),
      'app',
      {
        session_id: stubIdOf(c),
        scope,
      },
    )
    noStore(c)
    return c.json({ url: start.url, expires_at: start.expires_at })
  })
  .get('/v1/session/events', async (c) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      throw new BrokerError('invalid_request', 'This route is a WebSocket: send Upgrade: websocket.')
    }
    const { stub, secret, subprotocol } = stubOf(c, true)
    const headers = new Headers(c.req.raw.headers)
    headers.set('x-broker-session-secret', secret)
    headers.delete('authorization')
    if (subprotocol) headers.set('x-broker-subprotocol', subprotocol)
    return stub.fetch(new Request('https://session/events', { headers }))
  })
  .post('/v1/sessions/import', limitBody, async (c) => {
    const rt = runtimeOf(c)
    const app = await authenticateApp(rt.config, c.req.header('authorization'))
    const body = await readJson(c, ImportBody)
    const d = await discoverTarget(rt, body, app)
    const reg = await getRegistration(rt, app, d, originOf(c, rt))
    if (reg.client_id !== body.client_id) {
      throw new BrokerError(
        'invalid_request',
        'client_id is not the broker’s client at that provider: the broker could not refresh these tokens.',
      )
    }
    const checked = await checkImportedTokens(rt, d, reg.client_id, body.tokens)
    const stub = rt.env.SESSION.get(rt.env.SESSION.newUniqueId())
    const created = unwrap(
      await stub.adopt({
        app: app.id,
        issuer: d.issuer,
        ...(d.homeserver ? { homeserver: d.homeserver } : {}),
        metadata: d.metadata,
        client: {
          client_id: reg.client_id,
          token_endpoint_auth_method: reg.token_endpoint_auth_method,
          ...(reg.client_secret !== undefined ? { client_secret: reg.client_secret } : {}),
        },
        tokens: body.tokens,
        user: checked.user,
        scope: body.scope ?? checked.scope,
      }),
    )
    noStore(c)
    return c.json(created, 201)
  })

function stubIdOf(c: Ctx): string {
  return handleOf(c).handle.split('.')[0] ?? ''
}
