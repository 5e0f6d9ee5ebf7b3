// What the broker requires of a provider's metadata beyond what oauth4webapi checks (it checks
// the issuer): the endpoints it will call, their URL policy, and PKCE S256.
import * as z from 'zod'
import { BrokerError } from '../http/errors'
import { refuseReason } from '../net/url-policy'

const strings = z.array(z.string()).optional()

export const MetadataSchema = z.looseObject({
  issuer: z.string(),
  authorization_endpoint: z.url(),
  token_endpoint: z.url(),
  jwks_uri: z.url().optional(),
  userinfo_endpoint: z.url().optional(),
  registration_endpoint: z.url().optional(),
  revocation_endpoint: z.url().optional(),
  introspection_endpoint: z.url().optional(),
  end_session_endpoint: z.url().optional(),
  device_authorization_endpoint: z.url().optional(),
  account_management_uri: z.url().optional(),
  account_management_actions_supported: strings,
  scopes_supported: strings,
  response_types_supported: strings,
  response_modes_supported: strings,
  grant_types_supported: strings,
  code_challenge_methods_supported: strings,
  token_endpoint_auth_methods_supported: strings,
  revocation_endpoint_auth_methods_supported: strings,
  id_token_signing_alg_values_supported: strings,
  prompt_values_supported: strings,
  authorization_response_iss_parameter_supported: z.boolean().optional(),
})
export type ProviderMetadata = z.infer<typeof MetadataSchema>

export type DiscoverySource = 'auth_metadata' | 'auth_issuer' | 'openid-configuration' | 'oauth-authorization-server'

const ENDPOINTS = [
  'authorization_endpoint',
  'token_endpoint',
  'jwks_uri',
  'userinfo_endpoint',
  'registration_endpoint',
  'revocation_endpoint',
  'introspection_endpoint',
  'end_session_endpoint',
  'device_authorization_endpoint',
  'account_management_uri',
] as const

/**
 * PKCE policy: S256 listed → fine; a list without S256 → refused. No list at all: RFC 8414
 * reads that as "no PKCE", but many OpenID providers omit the field and accept PKCE anyway. We
 * accept such a document only from OpenID discovery, where the ID token's nonce (always sent
 * and checked) is the code-injection defence RFC 9700 §2.1.1 allows in PKCE's place; S256 is
 * still sent. Plain OAuth metadata (RFC 8414, MSC2965) must list S256.
 */
export function checkMetadata(doc: unknown, source: DiscoverySource, allowInsecure: boolean, what: string): ProviderMetadata {
  const parsed = MetadataSchema.safeParse(doc)
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.join('.') || 'document'
    throw new BrokerError('discovery_failed', `${what} failed: the metadata field ${field} is missing or invalid.`)
  }
  const md = parsed.data
  for (const name of ENDPOINTS) {
    const value = md[name]
    if (value === undefined) continue
    const refused = refuseReason(new URL(value), allowInsecure)
    if (refused) throw new BrokerError('discovery_failed', `${what} failed: ${name} is not allowed (${refused}).`)
  }
  if (md.response_types_supported && !md.response_types_supported.includes('code')) {
    throw new BrokerError('discovery_failed', `${what} failed: the provider does not support the authorization code flow.`)
  }
  const methods = md.code_challenge_methods_supported
  if (methods ? !methods.includes('S256') : source !== 'openid-configuration') {
    throw new BrokerError('discovery_failed', `${what} failed: the provider does not support PKCE with S256.`)
  }
  if (source === 'openid-configuration' && !md.jwks_uri) {
    throw new BrokerError('discovery_failed', `${what} failed: the metadata field jwks_uri is missing or invalid.`)
  }
  return md
}
