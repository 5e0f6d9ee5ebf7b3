// One Registrar Durable Object per issuer serializes dynamic registration: however many
// isolates ask at once, one registration per (issuer, client metadata) reaches the provider.
// Its own storage is the source of truth; KV is the cache every isolate reads first.
import { DurableObject } from 'cloudflare:workers'
import * as oauth from 'oauth4webapi'
import { loadConfig } from '../config/config'
import type { Runtime } from '../config/runtime'
import type { ProviderMetadata } from '../discovery/metadata'
import { oauthOptions } from '../discovery/discover'
import { sha256Hex } from '../crypto/hash'
import { BrokerError, type Outcome, settle } from '../http/errors'
import { providerFailure } from '../net/provider-errors'
import { kvKeys, registrarKeys } from '../storage/keys'
import type { AuthMethod } from './client-metadata'
import { fromStored, toStored } from './seal'
import { isExpired, type Registration, type StoredRegistration } from './types'
import * as z from 'zod'

export interface RegisterRequest {
  issuer: string
  provider: ProviderMetadata
  clientMetadata: Record<string, unknown>
  hash: string
}

// RFC 7591 §3.2.1: the fields the broker relies on (oauth4webapi checks client_id).
const RegistrationResponse = z.looseObject({
  client_id: z.string().min(1),
  client_secret: z.string().min(1).optional(),
  client_secret_expires_at: z.number().int().nonnegative().optional(),
  token_endpoint_auth_method: z.string().optional(),
})

export class Registrar extends DurableObject<Env> {
  private readonly inflight = new Map<string, Promise<Registration>>()

  /** The stored registration, or a new one. Concurrent callers share one provider call. */
  register(req: RegisterRequest): Promise<Outcome<Registration>> {
    let p = this.inflight.get(req.hash)
    if (!p) {
      p = this.registerOnce(req).finally(() => this.inflight.delete(req.hash))
      this.inflight.set(req.hash, p)
    }
    return settle(() => p)
  }

  /** The provider no longer accepts `clientId`: forget it (only if it is still the current one). */
  async invalidate(hash: string, clientId: string): Promise<void> {
    const key = registrarKeys.registration(hash)
    const stored = await this.ctx.storage.get<StoredRegistration>(key)
    if (stored?.client_id !== clientId) return
    await this.ctx.storage.delete(key)
    await this.env.CACHE.delete(kvKeys.registration(await sha256Hex(stored.issuer), hash))
  }

  /** A provider said `invalid_client` for `clientId`: forget every registration with it. */
  async forget(clientId: string): Promise<void> {
    for (const [key, stored] of await this.ctx.storage.list<StoredRegistration>({ prefix: 'registration:' })) {
      if (stored.client_id !== clientId) continue
      await this.ctx.storage.delete(key)
      const hash = key.slice('registration:'.length)
      await this.env.CACHE.delete(kvKeys.registration(await sha256Hex(stored.issuer), hash)).catch(() => {})
    }
  }

  private async registerOnce(req: RegisterRequest): Promise<Registration> {
    const config = loadConfig(this.env)
    const key = registrarKeys.registration(req.hash)
    const stored = await this.ctx.storage.get<StoredRegistration>(key)
    if (stored && !isExpired(stored)) return fromStored(stored, req.hash, config.tokenEncryptionKey, 'cached')

    const what = `Registration at ${req.issuer}`
    const rt: Runtime = { env: this.env, config, waitUntil: (p) => this.ctx.waitUntil(p) }
    let registered: z.infer<typeof RegistrationResponse>
    try {
      const as = req.provider as oauth.AuthorizationServer
      const res = await oauth.dynamicClientRegistrationRequest(as, req.clientMetadata as Record<string, oauth.JsonValue>, oauthOptions(rt))
      const body = await oauth.processDynamicClientRegistrationResponse(res)
      registered = RegistrationResponse.parse(body)
    } catch (e) {
      if (e instanceof z.ZodError) throw new BrokerError('registration_failed', `${what} failed: the provider's answer is malformed.`)
      throw providerFailure(e, 'registration_failed', what)
    }
    const method = (registered.token_endpoint_auth_method ?? req.clientMetadata['token_endpoint_auth_method']) as AuthMethod
    if (!['client_secret_basic', 'client_secret_post', 'none'].includes(method) || (method !== 'none' && !registered.client_secret)) {
      throw new BrokerError('registration_failed', `${what} failed: the provider registered a client authentication the broker cannot use.`)
    }
    const registration: Omit<Registration, 'source'> = {
      issuer: req.issuer,
      client_id: registered.client_id,
      ...(registered.client_secret ? { client_secret: registered.client_secret } : {}),
      token_endpoint_auth_method: method,
      ...(registered.client_secret_expires_at ? { client_secret_expires_at: registered.client_secret_expires_at } : {}),
    }
    const toKeep = await toStored(registration, req.hash, config.tokenEncryptionKey)
    // Saved before anyone is answered: a registration the provider made is never lost.
    await this.ctx.storage.put(key, toKeep)
    // KV is only the cache: a failed write costs another isolate one RPC to this object.
    await this.env.CACHE.put(kvKeys.registration(await sha256Hex(req.issuer), req.hash), JSON.stringify(toKeep)).catch(() => {})
    return { ...registration, source: 'registered' }
  }
}
