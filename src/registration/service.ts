// Which client the broker is at a provider: static credentials from config win; otherwise the
// dynamic registration for this app's metadata, from isolate memory, then KV, then the
// issuer's Registrar object (which registers at most once).
import * as oauth from 'oauth4webapi'
import type { Runtime } from '../config/runtime'
import type { App } from '../config/schema'
import { canonicalJson, sha256Hex } from '../crypto/hash'
import type { Discovered } from '../discovery/discover'
import { BrokerError, unwrap } from '../http/errors'
import { providerErrorCode } from '../net/provider-errors'
import { kvKeys } from '../storage/keys'
import { buildClientMetadata, chooseAuthMethod } from './client-metadata'
import { fromStored } from './seal'
import { isExpired, type Registration, type StoredRegistration } from './types'

const MEMORY_MAX = 500
// Isolate memory holds registrations opened (the warm path does no crypto and no I/O), for a
// few minutes: a registration forgotten elsewhere (invalid_client) must age out here too.
const MEMORY_TTL_MS = 5 * 60_000
const memory = new Map<string, { reg: Registration; until: number }>()

interface Target {
  key: string
  hash: string
  clientMetadata: Record<string, unknown>
}

async function target(rt: Runtime, app: App, d: Discovered, origin: string): Promise<Target> {
  const { metadata } = buildClientMetadata({
    app,
    provider: d.metadata,
    origin,
    matrix: d.homeserver !== undefined,
    softwareStatement: rt.config.softwareStatement,
  })
  const hash = await sha256Hex(canonicalJson(metadata))
  return { key: kvKeys.registration(await sha256Hex(d.issuer), hash), hash, clientMetadata: metadata }
}

export async function getRegistration(rt: Runtime, app: App, d: Discovered, origin: string): Promise<Registration> {
  const fixed = rt.config.staticRegistrations[d.issuer]
  if (fixed) {
    return {
      issuer: d.issuer,
      client_id: fixed.client_id,
      ...(fixed.client_secret !== undefined ? { client_secret: fixed.client_secret } : {}),
      token_endpoint_auth_method: fixed.token_endpoint_auth_method ?? (fixed.client_secret ? chooseAuthMethod(d.metadata) : 'none'),
      source: 'static',
    }
  }
  const t = await target(rt, app, d, origin)
  const keySpec = rt.config.tokenEncryptionKey
  const hot = memory.get(t.key)
  if (hot && hot.until > Date.now() && !isExpired(hot.reg)) return { ...hot.reg, source: 'cached' }
  const warm = await rt.env.CACHE.get<StoredRegistration>(t.key, 'json').catch(() => null)
  if (warm && !isExpired(warm)) {
    const opened = await fromStored(warm, t.hash, keySpec, 'cached')
    remember(t.key, opened)
    return opened
  }
  if (!d.metadata.registration_endpoint) {
    throw new BrokerError(
      'registration_not_supported',
      `${d.issuer} offers no dynamic client registration; configure its client in STATIC_REGISTRATIONS.`,
    )
  }
  const registrar = rt.env.REGISTRAR.getByName(d.issuer)
  const reg = unwrap(await registrar.register({ issuer: d.issuer, provider: d.metadata, clientMetadata: t.clientMetadata, hash: t.hash }))
  remember(t.key, reg)
  return reg
}

/**
 * Runs a provider call with the app's client; if the provider says `invalid_client` for a
 * dynamic registration, the registration is dropped and made again, once.
 */
export async function withClient<T>(
  rt: Runtime,
  app: App,
  d: Discovered,
  origin: string,
  call: (reg: Registration) => Promise<T>,
): Promise<T> {
  const reg = await getRegistration(rt, app, d, origin)
  try {
    return await call(reg)
  } catch (e) {
    const code = e instanceof BrokerError ? e.providerCode : providerErrorCode(e)
    if (reg.source === 'static' || code !== 'invalid_client') throw e
    await dropRegistration(rt, app, d, origin, reg.client_id)
    return call(await getRegistration(rt, app, d, origin))
  }
}

export async function dropRegistration(rt: Runtime, app: App, d: Discovered, origin: string, clientId: string): Promise<void> {
  const t = await target(rt, app, d, origin)
  memory.delete(t.key)
  await rt.env.REGISTRAR.getByName(d.issuer).invalidate(t.hash, clientId)
}

/** oauth4webapi's client and client authentication for a registration. */
export function clientOf(reg: Registration): { client: oauth.Client; auth: oauth.ClientAuth } {
  const client: oauth.Client = { client_id: reg.client_id, token_endpoint_auth_method: reg.token_endpoint_auth_method }
  const secret = reg.client_secret ?? ''
  const auth =
    reg.token_endpoint_auth_method === 'client_secret_basic'
      ? oauth.ClientSecretBasic(secret)
      : reg.token_endpoint_auth_method === 'client_secret_post'
        ? oauth.ClientSecretPost(secret)
        : oauth.None()
  return { client, auth }
}

function remember(key: string, r: Registration) {
  memory.delete(key)
  memory.set(key, { reg: r, until: Date.now() + MEMORY_TTL_MS })
  if (memory.size > MEMORY_MAX) {
    const oldest = memory.keys().next().value
    if (oldest !== undefined) memory.delete(oldest)
  }
}
