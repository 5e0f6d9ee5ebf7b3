// The browser path: GET /v1/login → provider → GET /v1/callback → the app's return_to with a
// broker code; and the app's side: POST /v1/login (for webviews) and POST /v1/sessions.
import { Hono } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import * as oauth from 'oauth4webapi'
import type { Runtime } from '../config/runtime'
import type { App } from '../config/schema'
import { sha256Hex } from '../crypto/hash'
import { discoverTarget } from '../discovery/target'
import { authenticateApp } from '../http/app-auth'
import { BrokerError, isBrokerError, logUnexpected, unwrap } from '../http/errors'
import { errorPage } from '../http/pages'
import { type AppEnv, type Ctx, originOf, runtimeOf } from '../http/types'
import { limitBody, parseWith, readJson, singleQuery } from '../http/validate'
import { providerErrorCode } from '../net/provider-errors'
import { getRegistration } from '../registration/service'
import { sessionStub, stubForId } from '../session/handles'
import { validateCallback } from '../session/provider-calls'
import { LoginBody, SessionsBody } from '../api/requests'
import { LoginOptions, newBrowserBinding, startLogin } from './authorize'
import { openState, type PendingLogin, STATE_TTL_SECONDS } from './state'

/** Browsers on http loopback in local mode cannot keep Secure (so no __Host-) cookies. */
function cookieName(c: Ctx, rt: Runtime, txn: string): { name: string; secure: boolean } {
  const url = new URL(c.req.url)
  const local = rt.config.allowInsecure && url.protocol === 'http:'
  return { name: `${local ? '' : '__Host-'}broker-login-${txn.slice(0, 12)}`, secure: !local }
}

/** Redirect to a return URL that has been checked against the app's list. */
function backToApp(c: Ctx, returnTo: string, params: Record<string, string | undefined>): Response {
  const url = new URL(returnTo)
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v)
  c.header('Cache-Control', 'no-store')
  c.header('Referrer-Policy', 'no-referrer')
  return c.redirect(url.href, 302)
}

function errorParams(e: unknown, requestId: string): { error: string; error_description: string } {
  if (isBrokerError(e)) return { error: e.code, error_description: e.description }
  logUnexpected(e, requestId)
  return { error: 'server_error', error_description: `Unexpected error (request id ${requestId}).` }
}

const untrusted = (c: Ctx) =>
  errorPage(
    c,
    400,
    'This login cannot start',
    'The app or its return address is not known to this broker, so you were not sent anywhere.',
    'invalid_request',
  )

export const loginRoutes = new Hono<AppEnv>()
  .get('/v1/login', async (c) => {
    const q = singleQuery(c)
    const rt = runtimeOf(c)
    // app + return_to first: until they check out, nothing redirects anywhere.
    const app = q?.app !== undefined ? rt.config.apps.get(q.app) : undefined
    const returnTo = q?.return_to
    if (!q || !app || returnTo === undefined || !app.return_urls.includes(returnTo)) return untrusted(c)
    const { app: _a, return_to: _r, ...rest } = q
    try {
      const opts = parseWith(LoginOptions, rest, 'query')
      const { cookie, binding } = await newBrowserBinding()
      const start = await startLogin(rt, app, returnTo, opts, originOf(c, rt), binding)
      // The txn prefix in the cookie name lets parallel logins in one browser coexist.
      const { name, secure } = cookieName(c, rt, start.txn)
      setCookie(c, name, cookie, { path: '/', httpOnly: true, secure, sameSite: 'Lax', maxAge: STATE_TTL_SECONDS })
      c.header('Cache-Control', 'no-store')
      c.header('Referrer-Policy', 'no-referrer')
      return c.redirect(start.url, 302)
    } catch (e) {
      return backToApp(c, returnTo, { ...errorParams(e, c.get('requestId')), state: rest.state })
    }
  })
  .post('/v1/login', limitBody, async (c) => {
    const rt = runtimeOf(c)
    const app = await authenticateApp(rt.config, c.req.header('authorization'))
    const body = await readJson(c, LoginBody)
    const { return_to, ...opts } = body
    if (!app.return_urls.includes(return_to)) throw new BrokerError('invalid_request', 'return_to is not one of the app’s return URLs.')
    const { url, expires_at } = await startLogin(rt, app, return_to, opts, originOf(c, rt), 'app')
    c.header('Cache-Control', 'no-store')
    return c.json({ url, expires_at })
  })
  .get('/v1/callback', async (c) => {
    const rt = runtimeOf(c)
    const q = singleQuery(c)
    if (!q) return errorPage(c, 400, 'Invalid callback', 'The provider sent this browser back with a malformed answer.', 'invalid_callback')
    const bad = () =>
      errorPage(
        c,
        400,
        'This login cannot be finished',
        'The login link is unknown, expired, already used or was started in another browser. Start the login again.',
        'invalid_state',
      )
    if (!q.state || q.state.length > 8192) return bad()
    let login: PendingLogin
    try {
      login = await openState(rt.config.stateSecret, q.state)
    } catch {
      return bad()
    }
    const app = rt.config.apps.get(login.app)
    if (!app || !app.return_urls.includes(login.return_to)) return bad()
    if (login.binding !== 'app') {
      const { name, secure } = cookieName(c, rt, login.txn)
      const cookie = getCookie(c, name)
      if (!cookie || (await sha256Hex(cookie)) !== login.binding) return bad()
      deleteCookie(c, name, { path: '/', secure })
    }
    if (q.code === undefined && q.error === undefined) {
      return errorPage(
        c,
        400,
        'Invalid callback',
        'The provider sent this browser back with neither a code nor an error.',
        'invalid_callback',
      )
    }
    try {
      const done = await completeLogin(c, rt, app, login, q.state)
      return backToApp(c, login.return_to, { ...done, state: login.app_state })
    } catch (e) {
      if (isBrokerError(e) && e.code === 'invalid_state') return bad()
      return backToApp(c, login.return_to, { ...errorParams(e, c.get('requestId')), state: login.app_state })
    }
  })
  .post('/v1/sessions', limitBody, async (c) => {
    const rt = runtimeOf(c)
    const app = await authenticateApp(rt.config, c.req.header('authorization'))
    const { code } = await readJson(c, SessionsBody)
    const { stub, secret } = sessionStub(rt.env, code, 'invalid_grant', 'The code is unknown, expired, already used or not this app’s.')
    const created = unwrap(await stub.redeem(secret, app.id))
    c.header('Cache-Control', 'no-store')
    return c.json(created, 201)
  })

/** → `{code}` for a new session, or `{scope}` when an existing session's scope was upgraded. */
async function completeLogin(
  c: Ctx,
  rt: Runtime,
  app: App,
  login: PendingLogin,
  state: string,
): Promise<{ code: string } | { scope: string }> {
  const d = await discoverTarget(rt, login.homeserver !== undefined ? { homeserver: login.homeserver } : { issuer: login.issuer })
  if (d.issuer !== login.issuer)
    throw new BrokerError('authorization_failed', 'The homeserver now names another issuer. Start the login again.')
  const query = new URL(c.req.url).search.slice(1)
  try {
    validateCallback(d.metadata, login.client_id, query, state)
  } catch (e) {
    if (e instanceof oauth.AuthorizationResponseError) {
      if (e.error === 'access_denied') throw new BrokerError('access_denied', 'The user cancelled the login.')
      throw new BrokerError('authorization_failed', `The provider refused the login: ${providerErrorCode(e) ?? 'error'}.`)
    }
    throw new BrokerError(
      'authorization_failed',
      'The authorization response was refused: its issuer (RFC 9207 iss) or state does not match.',
    )
  }
  const reg = await getRegistration(rt, app, d, new URL(login.redirect_uri).origin)
  if (reg.client_id !== login.client_id)
    throw new BrokerError(
      'authorization_failed',
      'The broker’s registration at the provider changed during the login. Start the login again.',
    )
  const input = {
    login,
    state,
    query,
    metadata: d.metadata,
    client: {
      client_id: reg.client_id,
      token_endpoint_auth_method: reg.token_endpoint_auth_method,
      ...(reg.client_secret !== undefined ? { client_secret: reg.client_secret } : {}),
    },
    ...(d.homeserver ? { homeserver: d.homeserver } : {}),
  }
  if (login.session_id !== undefined) {
    const stub = stubForId(rt.env, login.session_id, 'invalid_state', 'This session no longer exists.')
    return unwrap(await stub.completeScope(input))
  }
  const stub = rt.env.SESSION.get(rt.env.SESSION.idFromName(login.txn))
  return unwrap(await stub.complete(input))
}
