// MSC2965: a homeserver says which issuer authenticates its users. Order of the contract:
// stable auth_metadata, unstable auth_metadata, unstable auth_issuer + OIDC discovery. A bare
// server name is first resolved through /.well-known/matrix/client.
import * as oauth from 'oauth4webapi'
import * as z from 'zod'
import { egressPolicy, type Runtime } from '../config/runtime'
import { sha256Hex } from '../crypto/hash'
import { discoverIssuer, discoveryCache, type Discovered, requireJson, TTL } from '../discovery/discover'
import { checkMetadata } from '../discovery/metadata'
import { BrokerError } from '../http/errors'
import { guardedFetch } from '../net/egress'
import { providerFailure } from '../net/provider-errors'
import { refuseReason } from '../net/url-policy'
import { kvKeys } from '../storage/keys'
import { ttlFromCacheControl } from '../storage/swr-cache'

const WellKnown = z.looseObject({ 'm.homeserver': z.looseObject({ base_url: z.url() }) })
const AuthIssuer = z.looseObject({ issuer: z.url() })

/** `server` is a URL (`https://matrix.example.org`) or a server name (`example.org[:port]`). */
export async function discoverHomeserver(rt: Runtime, server: string): Promise<Discovered> {
  const key = kvKeys.homeserverMetadata(await sha256Hex(server))
  return discoveryCache.get(key, { kv: rt.env.CACHE, waitUntil: rt.waitUntil }, () => fetchHomeserver(rt, server))
}

/** A server name per the Matrix spec's grammar: hostname, IPv4 or [IPv6], optional port. */
const SERVER_NAME = /^(?:[A-Za-z0-9.-]{1,255}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/

export function isServerName(s: string): boolean {
  return SERVER_NAME.test(s)
}

async function fetchHomeserver(rt: Runtime, server: string): Promise<{ value: Discovered; ttlSeconds: number }> {
  const what = `Discovery through the homeserver ${server}`
  const get = guardedFetch(egressPolicy(rt.config))
  const json = { headers: { accept: 'application/json' } }
  try {
    const base = await resolveBase(rt, server, what)
    for (const path of ['/_matrix/client/v1/auth_metadata', '/_matrix/client/unstable/org.matrix.msc2965/auth_metadata']) {
      const res = await get(base + path, json)
      if (notOffered(res.status)) {
        await res.body?.cancel()
        continue
      }
      if (res.status !== 200) throw new BrokerError('discovery_failed', `${what} failed: ${path} answered HTTP ${res.status}.`)
      requireJson(res, what)
      const ttlSeconds = ttlFromCacheControl(res.headers.get('cache-control'), TTL.min, TTL.max, TTL.dflt)
      const body: unknown = await res.json().catch(() => undefined)
      const issuer = AuthIssuer.safeParse(body)
      if (!issuer.success) throw new BrokerError('discovery_failed', `${what} failed: the auth metadata has no valid issuer.`)
      checkIssuerAllowed(rt, issuer.data.issuer, what)
      // The homeserver vouches for this document; oauth4webapi still validates it as metadata.
      const doc = await oauth.processDiscoveryResponse(
        new URL(issuer.data.issuer),
        new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } }),
      )
      const metadata = checkMetadata(doc, 'auth_metadata', rt.config.allowInsecure, what)
      return { value: { issuer: metadata.issuer, metadata, source: 'auth_metadata', homeserver: base }, ttlSeconds }
    }
    const res = await get(`${base}/_matrix/client/unstable/org.matrix.msc2965/auth_issuer`, json)
    if (notOffered(res.status)) {
      await res.body?.cancel()
      throw new BrokerError('no_authentication_issuer', `The homeserver ${server} does not offer OAuth 2.0 / OpenID Connect login.`)
    }
    if (res.status !== 200) throw new BrokerError('discovery_failed', `${what} failed: auth_issuer answered HTTP ${res.status}.`)
    requireJson(res, what)
    const issuer = AuthIssuer.safeParse(await res.json().catch(() => undefined))
    if (!issuer.success) throw new BrokerError('discovery_failed', `${what} failed: auth_issuer gave no valid issuer.`)
    checkIssuerAllowed(rt, issuer.data.issuer, what)
    const discovered = await discoverIssuer(rt, issuer.data.issuer)
    return { value: { ...discovered, source: 'auth_issuer', homeserver: base }, ttlSeconds: TTL.dflt }
  } catch (e) {
    throw providerFailure(e, 'discovery_failed', what)
  }
}

// Matrix servers answer unknown endpoints with 404 (or 405/400) and M_UNRECOGNIZED.
const notOffered = (status: number) => status === 400 || status === 404 || status === 405 || status === 501

function checkIssuerAllowed(rt: Runtime, issuer: string, what: string) {
  const refused = refuseReason(new URL(issuer), rt.config.allowInsecure)
  if (refused) throw new BrokerError('discovery_failed', `${what} failed: the homeserver named an issuer that is not allowed (${refused}).`)
}

async function resolveBase(rt: Runtime, server: string, what: string): Promise<string> {
  if (/^https?:\/\//i.test(server)) return stripSlash(new URL(server))
  // Local runs have no TLS: a loopback server name is reached over http there.
  const loopback = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i.test(server)
  const scheme = rt.config.allowInsecure && loopback ? 'http' : 'https'
  const res = await guardedFetch(egressPolicy(rt.config))(`${scheme}://${server}/.well-known/matrix/client`, {
    headers: { accept: 'application/json' },
  })
  if (res.status === 404) {
    throw new BrokerError(
      'no_authentication_issuer',
      `The server name ${server} does not point to a homeserver (no /.well-known/matrix/client).`,
    )
  }
  if (res.status !== 200)
    throw new BrokerError('discovery_failed', `${what} failed: /.well-known/matrix/client answered HTTP ${res.status}.`)
  // The spec lets servers serve this file without a JSON content type; parse it regardless.
  const parsed = WellKnown.safeParse(await res.json().catch(() => undefined))
  if (!parsed.success)
    throw new BrokerError('discovery_failed', `${what} failed: /.well-known/matrix/client has no valid m.homeserver.base_url.`)
  const base = new URL(parsed.data['m.homeserver'].base_url)
  const refused = refuseReason(base, rt.config.allowInsecure)
  if (refused) throw new BrokerError('discovery_failed', `${what} failed: the homeserver base URL is not allowed (${refused}).`)
  return stripSlash(base)
}

function stripSlash(u: URL): string {
  return (u.origin + u.pathname).replace(/\/+$/, '')
}
