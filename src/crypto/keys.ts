// Keys derived from STATE_SECRET with HKDF, one per purpose, imported once per isolate.
const cache = new Map<string, Promise<Uint8Array>>()

/** 32 bytes for `purpose`, derived from the secret (HKDF-SHA-256). */
export function deriveKey(secret: string, purpose: string): Promise<Uint8Array> {
  const id = `${purpose}\u0000${secret}`
  let key = cache.get(id)
  if (!key) {
    key = (async () => {
      const ikm = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), 'HKDF', false, ['deriveBits'])
      const bits = await crypto.subtle.deriveBits(
        { name: 'HKDF', hash: 'SHA-256', salt: new TextEncoder().encode('edge-token-broker'), info: new TextEncoder().encode(purpose) },
        ikm,
        256,
      )
      return new Uint8Array(bits)
    })()
    cache.set(id, key)
  }
  return key
}
