// Discovery by issuer: OpenID Connect discovery, then RFC 8414 metadata; through oauth4webapi,
// whose processDiscoveryResponse checks the issuer; behind the egress guard; cached.
import * as oauth from 'oauth4webapi'
import { egressPolicy, type Runtime } from '../config/runtime'
import { sha256Hex } from '../crypto/hash'
import { BrokerError } from '../http/errors'
import { guardedFetch } from '../net/egress'
import { providerFailure } from '../net/provider-errors'
import { kvKeys } from '../storage/keys'
import { SwrCache, ttlFromCacheControl } from '../storage/swr-cache'
import { checkMetadata, type DiscoverySource, type ProviderMetadata } from './metadata'

export interface Discovered {
  issuer: string
  metadata: ProviderMetadata
  source: DiscoverySource
  /** Set when discovered through a Matrix homeserver: its client-API base URL. */
  homeserver?: string
}

/** Cache policy of the contract: TTL from Cache-Control clamped to [60 s, 24 h]. */
export const TTL = { min: 60, max: 86_400, dflt: 3_600, stale: 86_400 } as const

export const discoveryCache = new SwrCache<Discovered>({ staleSeconds: TTL.stale, maxEntries: 500 })

export function oauthOptions(rt: Runtime, maxBytes?: number) {
  return {
    [oauth.customFetch]: guardedFetch(egressPolicy(rt.config, maxBytes)),
    [oauth.allowInsecureRequests]: rt.config.allowInsecure,
  }
}

/** Cached discovery of an issuer the caller has already checked against the URL policy. */
export async function discoverIssuer(rt: Runtime, issuer: string): Promise<Discovered> {
  const key = kvKeys.issuerMetadata(await sha256Hex(issuer))
  return discoveryCache.get(key, { kv: rt.env.CACHE, waitUntil: rt.waitUntil }, () => fetchIssuerMetadata(rt, issuer))
}

export async function fetchIssuerMetadata(rt: Runtime, issuer: string): Promise<{ value: Discovered; ttlSeconds: number }> {
  const what = `Discovery of ${issuer}`
  const url = new URL(issuer)
  try {
    for (const algorithm of ['oidc', 'oauth2'] as const) {
      const source: DiscoverySource = algorithm === 'oidc' ? 'openid-configuration' : 'oauth-authorization-server'
      const res = await oauth.discoveryRequest(url, { algorithm, ...oauthOptions(rt) })
      // Not found (or refused) at the OpenID location: try the RFC 8414 one.
      if (algorithm === 'oidc' && [400, 401, 403, 404, 405, 410].includes(res.status)) {
        await res.body?.cancel()
        continue
      }
      if (res.status !== 200) throw new BrokerError('discovery_failed', `${what} failed: the provider answered HTTP ${res.status}.`)
      requireJson(res, what)
      const ttlSeconds = ttlFromCacheControl(res.headers.get('cache-control'), TTL.min, TTL.max, TTL.dflt)
      const doc = await oauth.processDiscoveryResponse(url, res)
      // oauth4webapi compares parsed URLs; OpenID Discovery §4.3 asks for the identical string.
      if (doc.issuer !== issuer)
        throw new BrokerError('discovery_failed', `${what} failed: the document's issuer does not equal the requested issuer.`)
      const metadata = checkMetadata(doc, source, rt.config.allowInsecure, what)
      return { value: { issuer, metadata, source }, ttlSeconds }
    }
    throw new BrokerError('discovery_failed', `${what} failed: no metadata document was found.`)
  } catch (e) {
    throw providerFailure(e, 'discovery_failed', what)
  }
}

export function requireJson(res: Response, what: string): void {
  const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') {
    throw new BrokerError('discovery_failed', `${what} failed: the response is ${type ? `${type}, not JSON` : 'not JSON'}.`)
  }
}
