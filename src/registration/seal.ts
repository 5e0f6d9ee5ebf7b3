// Registrations at rest: the client secret sealed (when TOKEN_ENCRYPTION_KEY is set), bound to
// its issuer and metadata hash so a stored secret cannot be moved to another record.
import { keyRing, openAtRest, sealAtRest } from '../crypto/aead'
import type { Registration, RegistrationSource, StoredRegistration } from './types'

const aad = (issuer: string, hash: string) => `registration|${issuer}|${hash}`

export async function toStored(r: Omit<Registration, 'source'>, hash: string, keySpec: string | undefined): Promise<StoredRegistration> {
  const ring = await keyRing(keySpec)
  return {
    issuer: r.issuer,
    client_id: r.client_id,
    ...(r.client_secret !== undefined ? { client_secret_sealed: await sealAtRest(ring, r.client_secret, aad(r.issuer, hash)) } : {}),
    token_endpoint_auth_method: r.token_endpoint_auth_method,
    ...(r.client_secret_expires_at ? { client_secret_expires_at: r.client_secret_expires_at } : {}),
    registered_at: Date.now(),
  }
}

export async function fromStored(
  s: StoredRegistration,
  hash: string,
  keySpec: string | undefined,
  source: RegistrationSource,
): Promise<Registration> {
  const ring = await keyRing(keySpec)
  return {
    issuer: s.issuer,
    client_id: s.client_id,
    ...(s.client_secret_sealed !== undefined ? { client_secret: await openAtRest(ring, s.client_secret_sealed, aad(s.issuer, hash)) } : {}),
    token_endpoint_auth_method: s.token_endpoint_auth_method,
    ...(s.client_secret_expires_at ? { client_secret_expires_at: s.client_secret_expires_at } : {}),
    source,
  }
}
