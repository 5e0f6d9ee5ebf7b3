// The demo app at `/` — the "thin web client" pattern: this Worker plays the app's server side.
// /demo/login sends the browser to GET /v1/login with a state it also sets as a cookie;
// /demo/callback checks that state, redeems the broker code with the app's credentials and
// keeps the session handle in an HttpOnly cookie; /demo/api/* call the session API with it.
// The page never sees the handle or a token, nor URLs that carry one (the account page's).
// Off (404) unless DEMO_APP_ID and DEMO_APP_SECRET are set.
import { Hono } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import * as z from 'zod'
import * as A from '../api/schemas'
import { loadConfig } from '../config/config'
import { digestsEqual, randomToken, sha256, sha256Hex } from '../crypto/hash'
import { BrokerError, isBrokerError } from '../http/errors'
import { errorPage } from '../http/pages'
import type { AppEnv, Ctx } from '../http/types'
import { readQuery, singleQuery } from '../http/validate'
import { appAuth, brokerFetch, brokerJson, jsonPost, sessionAuth } from './broker'
import { type DemoConfig, demoConfig } from './config'
import { demoPage, landingPage } from './page'
import { DEMO_SCRIPT } from './script'

/** As long as the broker's own login state lives. */
const STATE_COOKIE_SECONDS = 600
const HANDLE = /^[\w.-]{1,256}$/

const webUrl = z.url({ protocol: /^https?$/ })
const Created = z.object({ session: z.string().regex(HANDLE) })
const Account = z.object({ url: webUrl })

const LoginQuery = z
  .object({
    provider: z.enum(['local', 'issuer', 'homeserver']),
    issuer: z.string().max(2048).optional(),
    homeserver: z.string().max(2048).optional(),
  })
  .strict()

const notFound = () => new BrokerError('not_found', 'There is no such route.')

function demoOf(c: Ctx): DemoConfig {
  const demo = demoConfig(c.env)
  if (!demo) throw notFound()
  return demo
}

const originOf = (c: Ctx) => new URL(c.req.url).origin

/** Browsers on http (the local run) cannot keep Secure, so neither __Host- cookies. */
function cookies(c: Ctx) {
  const secure = new URL(c.req.url).protocol === 'https:'
  const prefix = secure ? '__Host-' : ''
  return { secure, state: `${prefix}demo-state`, session: `${prefix}demo-session` }
}

/** Same-site is not same-origin (another port of 127.0.0.1 is same-site), so writes check Origin. */
function sameOrigin(c: Ctx) {
  const origin = c.req.header('origin')
  if (origin !== undefined && origin !== originOf(c))
    throw new BrokerError('invalid_request', 'Cross-origin requests to the demo are refused.')
}

function handleOf(c: Ctx): string {
  const handle = getCookie(c, cookies(c).session)
  if (!handle || !HANDLE.test(handle)) throw new BrokerError('invalid_session', 'Not logged in: this browser has no demo session.')
  return handle
}

/** A session API call with the cookie's handle; a handle the broker no longer knows is dropped. */
async function sessionCall<S extends z.ZodType>(c: Ctx, path: string, init: RequestInit, schema: S): Promise<z.output<S>> {
  const handle = handleOf(c)
  const headers = { ...(init.headers as Record<string, string> | undefined), ...sessionAuth(handle) }
  try {
    return await brokerJson(originOf(c), path, { ...init, headers }, schema)
  } catch (e) {
    if (isBrokerError(e) && e.code === 'invalid_session') dropSession(c)
    throw e
  }
}

function dropSession(c: Ctx) {
  const { session, secure } = cookies(c)
  deleteCookie(c, session, { path: '/', secure })
}

/** What the page may know of a token: the start of its hash, and how long it lives. */
async function tokenView(t: z.output<typeof A.Token>) {
  const now = Math.floor(Date.now() / 1000)
  return {
    token_sha256_prefix: (await sha256Hex(t.access_token)).slice(0, 12),
    expires_at: t.expires_at,
    expires_in: t.expires_at === null ? null : Math.max(0, t.expires_at - now),
    scope: t.scope,
    refreshed: t.refreshed,
  }
}

async function accountUrl(c: Ctx): Promise<string> {
  return (await sessionCall(c, '/v1/session/account', {}, Account)).url
}

function target(q: z.output<typeof LoginQuery>, demo: DemoConfig): { issuer: string } | { homeserver: string } {
  if (q.provider === 'local') {
    if (!demo.localIssuer) throw new BrokerError('invalid_request', 'This broker has no embedded provider: type an issuer or a homeserver.')
    return { issuer: demo.localIssuer }
  }
  const value = (q.provider === 'issuer' ? q.issuer : q.homeserver)?.trim()
  if (!value) throw new BrokerError('invalid_request', `Type the ${q.provider === 'issuer' ? 'issuer URL' : 'homeserver'} to log in with.`)
  // The broker checks it (URL policy, discovery) and sends errors back to the callback.
  return q.provider === 'issuer' ? { issuer: value } : { homeserver: value }
}

const noStore = (c: Ctx) => c.header('Cache-Control', 'no-store')

export const demoRoutes = new Hono<AppEnv>()
  .use('/demo/*', async (c, next) => {
    if (!demoConfig(c.env)) throw notFound()
    await next()
  })
  .get('/', (c) => {
    const demo = demoConfig(c.env)
    if (!demo) return landingPage(c)
    return demoPage(c, demo, getCookie(c, cookies(c).session) !== undefined)
  })
  .get('/demo/app.js', (c) => {
    c.header('Content-Type', 'text/javascript; charset=utf-8')
    c.header('Cache-Control', 'no-cache')
    return c.body(DEMO_SCRIPT)
  })
  .get('/demo/login', (c) => {
    const demo = demoOf(c)
    const returnTo = `${originOf(c)}/demo/callback`
    // Checked here too so that a missing return URL is a clear page, not the broker's refusal.
    const app = loadConfig(c.env).apps.get(demo.appId)
    if (!app?.return_urls.includes(returnTo)) {
      return errorPage(
        c,
        500,
        'The demo is not set up for this address',
        `The app ${demo.appId} must exist in BROKER_APPS and list ${returnTo} among its return_urls.`,
        'misconfigured',
      )
    }
    let chosen: { issuer: string } | { homeserver: string }
    try {
      chosen = target(readQuery(c, LoginQuery), demo)
    } catch (e) {
      if (isBrokerError(e)) return errorPage(c, 400, 'Choose a provider', e.description, e.code)
      throw e
    }
    const state = randomToken()
    const { state: name, secure } = cookies(c)
    setCookie(c, name, state, { path: '/', httpOnly: true, secure, sameSite: 'Lax', maxAge: STATE_COOKIE_SECONDS })
    const url = new URL('/v1/login', originOf(c))
    for (const [k, v] of Object.entries({ app: demo.appId, return_to: returnTo, state, ...chosen })) url.searchParams.set(k, v)
    noStore(c)
    return c.redirect(url.href, 302)
  })
  .get('/demo/callback', async (c) => {
    const demo = demoOf(c)
    const q = singleQuery(c)
    const names = cookies(c)
    const expected = getCookie(c, names.state)
    // One use: the state cookie goes whatever happens next, so a replayed callback finds none.
    if (expected !== undefined) deleteCookie(c, names.state, { path: '/', secure: names.secure })
    noStore(c)
    c.header('Referrer-Policy', 'no-referrer')
    const badState = () =>
      errorPage(
        c,
        400,
        'This login cannot be finished',
        'It was not started in this browser, or it was already finished. Start again from the demo page.',
        'invalid_state',
      )
    if (!q) return errorPage(c, 400, 'Invalid callback', 'The browser came back with a malformed answer.', 'invalid_callback')
    if (!q.state || q.state.length > 256 || !expected) return badState()
    if (!digestsEqual(await sha256(q.state), await sha256(expected))) return badState()
    if (q.error !== undefined) {
      const code = /^[\w.-]{1,64}$/.test(q.error) ? q.error : 'error'
      return errorPage(c, 400, 'The login did not complete', (q.error_description ?? 'The broker reported an error.').slice(0, 300), code)
    }
    if (!q.code) return errorPage(c, 400, 'Invalid callback', 'The browser came back with neither a code nor an error.', 'invalid_callback')
    let handle: string
    try {
      const created = await brokerJson(
        originOf(c),
        '/v1/sessions',
        jsonPost(appAuth(demo.appId, demo.appSecret), { code: q.code }),
        Created,
      )
      handle = created.session
    } catch (e) {
      if (isBrokerError(e)) return errorPage(c, 400, 'This login cannot be finished', e.description, e.code)
      throw e
    }
    setCookie(c, names.session, handle, { path: '/', httpOnly: true, secure: names.secure, sameSite: 'Lax' })
    // A fixed path of this origin: nothing from the query decides where the browser goes.
    return c.redirect('/', 303)
  })
  .get('/demo/api/session', async (c) => {
    const info = await sessionCall(c, '/v1/session', {}, A.SessionInfo.omit({ session_id: true }))
    noStore(c)
    return c.json(info)
  })
  .post('/demo/api/token', async (c) => {
    sameOrigin(c)
    const t = await sessionCall(c, '/v1/session/token', jsonPost({}), A.Token)
    noStore(c)
    return c.json(await tokenView(t))
  })
  .post('/demo/api/refresh', async (c) => {
    sameOrigin(c)
    const t = await sessionCall(c, '/v1/session/refresh', jsonPost({}), A.Token)
    noStore(c)
    return c.json(await tokenView(t))
  })
  .get('/demo/api/account', async (c) => {
    // Whether there is a page, not its URL: that carries the ID token (id_token_hint).
    const available = await accountUrl(c).then(
      () => true,
      (e: unknown) => (isBrokerError(e) && e.code === 'not_supported' ? false : Promise.reject(e)),
    )
    noStore(c)
    return c.json({ available })
  })
  .get('/demo/account', async (c) => {
    let url: string
    try {
      url = await accountUrl(c)
    } catch (e) {
      if (isBrokerError(e) && e.status < 500) return errorPage(c, e.status === 404 ? 404 : 400, 'No account page', e.description, e.code)
      throw e
    }
    noStore(c)
    c.header('Referrer-Policy', 'no-referrer')
    // The broker's answer, from the provider's checked metadata; never a URL from the request.
    return c.redirect(url, 303)
  })
  .post('/demo/api/logout', async (c) => {
    sameOrigin(c)
    const { revoked } = await sessionCall(c, '/v1/session/logout', jsonPost({}), A.Logout)
    dropSession(c)
    noStore(c)
    // Not end_session_url: it carries the ID token (id_token_hint), which the page never sees.
    return c.json({ revoked })
  })
  .get('/demo/api/events', (c) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      throw new BrokerError('invalid_request', 'This route is a WebSocket: send Upgrade: websocket.')
    }
    // Browsers send cookies with WebSocket handshakes from any same-site page: Origin decides.
    sameOrigin(c)
    const handle = handleOf(c)
    // The handle goes as Bearer, so the browser offers no subprotocol and needs none back.
    return brokerFetch(originOf(c), '/v1/session/events', { headers: { upgrade: 'websocket', ...sessionAuth(handle) } })
  })
