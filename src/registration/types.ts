import type { AuthMethod } from './client-metadata'

export type RegistrationSource = 'static' | 'cached' | 'registered'

/** A client registration as the broker uses it (the secret in clear: never on the wire). */
export interface Registration {
  issuer: string
  client_id: string
  client_secret?: string
  token_endpoint_auth_method: AuthMethod
  /** RFC 7591: 0 or absent = never. Seconds since the epoch. */
  client_secret_expires_at?: number
  source: RegistrationSource
}

/** How a registration is kept in KV and in the Registrar object (secret sealed at rest). */
export interface StoredRegistration {
  issuer: string
  client_id: string
  client_secret_sealed?: string
  token_endpoint_auth_method: AuthMethod
  client_secret_expires_at?: number
  registered_at: number
}

export function isExpired(r: { client_secret_expires_at?: number | undefined }, now = Date.now()): boolean {
  // Renew a minute early so a secret does not expire between our check and the provider's.
  return !!r.client_secret_expires_at && r.client_secret_expires_at * 1000 - 60_000 <= now
}
