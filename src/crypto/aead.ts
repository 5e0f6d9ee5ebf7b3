// Encryption at rest (AES-256-GCM, WebCrypto) for tokens and client secrets when
// TOKEN_ENCRYPTION_KEY is set. The key id is stored beside each value, so keys can rotate:
// TOKEN_ENCRYPTION_KEY = "kid1:<base64url 32 bytes>,kid0:<…>" — the first encrypts, all decrypt.
import { base64url } from 'jose'
import { BrokerError } from '../http/errors'

export interface KeyRing {
  current: { kid: string; key: CryptoKey } | undefined
  byId: Map<string, CryptoKey>
}

const rings = new Map<string, Promise<KeyRing>>()

export function keyRing(spec: string | undefined): Promise<KeyRing> {
  const id = spec ?? ''
  let ring = rings.get(id)
  if (!ring) {
    ring = buildRing(spec)
    ring.catch(() => rings.delete(id))
    rings.set(id, ring)
  }
  return ring
}

async function buildRing(spec: string | undefined): Promise<KeyRing> {
  const byId = new Map<string, CryptoKey>()
  let current: KeyRing['current']
  for (const part of (spec ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [kid, raw] = part.split(':')
    let bytes: Uint8Array
    try {
      bytes = base64url.decode(raw ?? '')
    } catch {
      bytes = new Uint8Array()
    }
    if (!kid || !/^[\w-]{1,32}$/.test(kid) || bytes.byteLength !== 32) {
      throw new BrokerError('misconfigured', 'The broker is misconfigured: TOKEN_ENCRYPTION_KEY must be "kid:<base64url of 32 bytes>[,…]".')
    }
    const key = await crypto.subtle.importKey('raw', bytes, 'AES-GCM', false, ['encrypt', 'decrypt'])
    byId.set(kid, key)
    current ??= { kid, key }
  }
  return { current, byId }
}

const PLAIN = 'p.'
const SEALED = 'e.'

/** `aad` binds the ciphertext to where it is stored, so values cannot be swapped between records. */
export async function sealAtRest(ring: KeyRing, plaintext: string, aad: string): Promise<string> {
  if (!ring.current) return PLAIN + plaintext
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const ct = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(aad) },
    ring.current.key,
    new TextEncoder().encode(plaintext),
  )
  return `${SEALED}${ring.current.kid}.${base64url.encode(iv)}.${base64url.encode(new Uint8Array(ct))}`
}

export async function openAtRest(ring: KeyRing, stored: string, aad: string): Promise<string> {
  if (stored.startsWith(PLAIN)) return stored.slice(PLAIN.length)
  const [tag, kid, iv, ct] = stored.split('.')
  const key = kid ? ring.byId.get(kid) : undefined
  if (tag !== 'e' || !key || !iv || !ct) {
    throw new BrokerError('misconfigured', 'A stored value was encrypted with a key that TOKEN_ENCRYPTION_KEY no longer holds.')
  }
  const pt = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: base64url.decode(iv), additionalData: new TextEncoder().encode(aad) },
    key,
    base64url.decode(ct),
  )
  return new TextDecoder().decode(pt)
}
