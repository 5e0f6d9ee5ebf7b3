// Device login (RFC 8628) for apps without a browser of their own: POST /v1/device starts it
// at the provider and answers what the user needs (user code, verification URIs) with a
// broker device code; POST /v1/device/poll answers from the DeviceLogin object's last known
// state, and with the session once the user approved.
import { Hono } from 'hono'
import * as z from 'zod'
import type { Runtime } from '../config/runtime'
import type { App } from '../config/schema'
import type { Discovered } from '../discovery/discover'
import { discoverTarget, TargetFields } from '../discovery/target'
import { authenticateApp } from '../http/app-auth'
import { BrokerError, unwrap } from '../http/errors'
import { type AppEnv, type Ctx, originOf, runtimeOf } from '../http/types'
import { limitBody, readJson } from '../http/validate'
import { LoginFields, scopeFor } from '../login/authorize'
import { checkDeviceId, deviceFromScope } from '../matrix/scopes'
import { providerFailure } from '../net/provider-errors'
import { DEVICE_CODE_GRANT } from '../registration/client-metadata'
import { withClient } from '../registration/service'
import type { Registration } from '../registration/types'
import type { ClientCreds } from '../session/provider-calls'
import { type DeviceAuthorization, requestDeviceAuthorization } from './provider-calls'

export const DeviceBody = z.object({ ...TargetFields, scope: LoginFields.scope, device_id: LoginFields.device_id }).strict()
export const PollBody = z.object({ device_code: z.string().max(512) }).strict()

/** `<object id>.<secret>`, like the broker's login codes. */
const CODE = /^([0-9a-f]{64})\.([A-Za-z0-9_-]{43})$/

const credsOf = (reg: Registration): ClientCreds => ({
  client_id: reg.client_id,
  token_endpoint_auth_method: reg.token_endpoint_auth_method,
  ...(reg.client_secret !== undefined ? { client_secret: reg.client_secret } : {}),
})

function deviceStub(env: Env, code: string) {
  const m = CODE.exec(code)
  try {
    if (m?.[1] && m[2]) return { stub: env.DEVICE_LOGIN.get(env.DEVICE_LOGIN.idFromString(m[1])), secret: m[2] }
  } catch {
    // not an id this namespace minted
  }
  throw new BrokerError('invalid_grant', 'The device code is unknown, expired, already used or not this app’s.')
}

function requireDeviceGrant(d: Discovered) {
  const md = d.metadata
  if (!md.device_authorization_endpoint || (md.grant_types_supported && !md.grant_types_supported.includes(DEVICE_CODE_GRANT))) {
    throw new BrokerError('not_supported', 'The provider does not offer the device authorization grant (RFC 8628).')
  }
}

async function startDeviceAuthorization(rt: Runtime, app: App, d: Discovered, origin: string, scope: string) {
  try {
    return await withClient(rt, app, d, origin, async (reg) => ({
      reg,
      auth: await requestDeviceAuthorization(rt, d.metadata, credsOf(reg), scope),
    }))
  } catch (e) {
    throw providerFailure(e, 'authorization_failed', 'The device authorization request')
  }
}

const noStore = (c: Ctx) => c.header('Cache-Control', 'no-store')

export const deviceRoutes = new Hono<AppEnv>()
  .post('/v1/device', limitBody, async (c) => {
    const rt = runtimeOf(c)
    const app = await authenticateApp(rt.config, c.req.header('authorization'))
    const body = await readJson(c, DeviceBody)
    const deviceId = body.device_id !== undefined ? checkDeviceId(body.device_id) : undefined
    const d = await discoverTarget(rt, body, app)
    requireDeviceGrant(d)
    const scope = scopeFor(d, body.scope, deviceId)
    const { reg, auth } = await startDeviceAuthorization(rt, app, d, originOf(c, rt), scope)
    const matrixDevice = d.homeserver ? deviceFromScope(scope) : undefined
    const stub = rt.env.DEVICE_LOGIN.get(rt.env.DEVICE_LOGIN.newUniqueId())
    const { device_code } = unwrap(
      await stub.begin({
        app: app.id,
        issuer: d.issuer,
        ...(d.homeserver ? { homeserver: d.homeserver } : {}),
        metadata: d.metadata,
        client: credsOf(reg),
        scope,
        ...(matrixDevice ? { device_id: matrixDevice } : {}),
        device_code: auth.device_code,
        expires_in: auth.expires_in,
        interval: auth.interval,
      }),
    )
    noStore(c)
    return c.json(answer(device_code, auth, matrixDevice))
  })
  .post('/v1/device/poll', limitBody, async (c) => {
    const rt = runtimeOf(c)
    const app = await authenticateApp(rt.config, c.req.header('authorization'))
    const { device_code } = await readJson(c, PollBody)
    const { stub, secret } = deviceStub(rt.env, device_code)
    const created = unwrap(await stub.poll(secret, app.id))
    noStore(c)
    return c.json(created, 201)
  })

function answer(deviceCode: string, a: DeviceAuthorization, deviceId: string | undefined) {
  return {
    device_code: deviceCode,
    user_code: a.user_code,
    verification_uri: a.verification_uri,
    ...(a.verification_uri_complete !== undefined ? { verification_uri_complete: a.verification_uri_complete } : {}),
    expires_in: a.expires_in,
    interval: a.interval,
    // Matrix: the device the new session will be, for MSC4108's m.login.protocol message.
    ...(deviceId !== undefined ? { device_id: deviceId } : {}),
  }
}
