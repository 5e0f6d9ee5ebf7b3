// ID token signature check against the provider's JWKS (jose). oauth4webapi validates the
// claims (iss, aud, azp, nonce, exp, iat) of an ID token from the token endpoint but leaves the
// signature to us. JWKS sets are cached per isolate; an unknown `kid` triggers one refetch
// (jose's cooldown keeps a flood of bad tokens from hammering the provider).
import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose'
import type { Runtime } from '../config/runtime'
import { egressPolicy } from '../config/runtime'
import type { ProviderMetadata } from '../discovery/metadata'
import { BrokerError } from '../http/errors'
import { guardedFetch } from '../net/egress'

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']
const CLOCK_SKEW_SECONDS = 60
const sets = new Map<string, ReturnType<typeof createRemoteJWKSet>>()

function jwksFor(rt: Runtime, uri: string) {
  let set = sets.get(uri)
  if (!set) {
    set = createRemoteJWKSet(new URL(uri), {
      [customFetch]: guardedFetch(egressPolicy(rt.config)),
      timeoutDuration: rt.config.providerTimeoutMs,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    })
    if (sets.size > 200) sets.delete(sets.keys().next().value ?? '')
    sets.set(uri, set)
  }
  return set
}

/**
 * Only asymmetric algorithms the provider advertises (RS256 if it says nothing): never
 * `none`, never HS* (a public key used as an HMAC secret is the classic confusion attack).
 */
export function idTokenAlgorithms(md: ProviderMetadata): string[] {
  const offered = md.id_token_signing_alg_values_supported ?? ['RS256']
  const ok = offered.filter((a) => ASYMMETRIC.includes(a))
  return ok.length ? ok : ['RS256']
}

export async function verifyIdTokenSignature(rt: Runtime, md: ProviderMetadata, idToken: string, clientId: string): Promise<void> {
  if (!md.jwks_uri) throw new BrokerError('authorization_failed', 'The provider sent an ID token but publishes no keys (jwks_uri).')
  let iat: number | undefined
  try {
    const { payload } = await jwtVerify(idToken, jwksFor(rt, md.jwks_uri), {
      algorithms: idTokenAlgorithms(md),
      issuer: md.issuer,
      audience: clientId,
      clockTolerance: CLOCK_SKEW_SECONDS,
    })
    iat = payload.iat
  } catch (e) {
    const name = (e as { code?: string }).code ?? ''
    const why =
      name === 'ERR_JWKS_NO_MATCHING_KEY'
        ? 'no key of the provider matches it'
        : name === 'ERR_JOSE_ALG_NOT_ALLOWED'
          ? 'its algorithm is not allowed'
          : name === 'ERR_JWKS_TIMEOUT'
            ? 'the provider keys could not be fetched in time'
            : name === 'ERR_JWT_EXPIRED'
              ? 'it is expired'
              : name.startsWith('ERR_JWKS')
                ? 'the provider keys could not be used'
                : 'its signature or claims are invalid'
    throw new BrokerError(
      name === 'ERR_JWKS_TIMEOUT' ? 'temporarily_unavailable' : 'authorization_failed',
      `The ID token was refused: ${why}.`,
    )
  }
  // Neither library refuses a token issued in the future; OIDC Core §3.1.3.7 (10) lets us.
  if (iat === undefined || iat > Date.now() / 1000 + CLOCK_SKEW_SECONDS) {
    throw new BrokerError('authorization_failed', 'The ID token was refused: it was issued in the future.')
  }
}
