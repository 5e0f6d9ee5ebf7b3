// Restoring a session obtained elsewhere (the seed's `restore_session`): the tokens are only
// adopted after the provider (userinfo) or the homeserver (whoami) accepted the access token.
import { decodeJwt } from 'jose'
import type { Runtime } from '../config/runtime'
import type { Discovered } from '../discovery/discover'
import { BrokerError } from '../http/errors'
import { whoami } from '../matrix/whoami'
import { userinfo } from './provider-calls'

export interface ImportedTokens {
  access_token: string
  refresh_token: string
  id_token?: string | undefined
  expires_at?: number | undefined
}

export async function checkImportedTokens(
  rt: Runtime,
  d: Discovered,
  clientId: string,
  tokens: ImportedTokens,
): Promise<{ user: { sub?: string; user_id?: string; device_id?: string }; scope: string }> {
  if (tokens.id_token !== undefined) {
    // Kept only as an id_token_hint; it must at least be this provider's, for this client.
    let claims: ReturnType<typeof decodeJwt>
    try {
      claims = decodeJwt(tokens.id_token)
    } catch {
      throw new BrokerError('invalid_request', 'tokens.id_token is not a JWT.')
    }
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
    if (claims.iss !== d.issuer || !aud.includes(clientId)) {
      throw new BrokerError('invalid_request', 'tokens.id_token was not issued by that provider to the broker’s client.')
    }
  }
  if (d.homeserver) {
    const me = await whoami(rt, d.homeserver, tokens.access_token).catch((e: unknown) => {
      if (e instanceof BrokerError && e.code === 'authorization_failed') {
        throw new BrokerError('invalid_grant', 'The homeserver did not accept the access token.')
      }
      throw e
    })
    if (!me.device_id) throw new BrokerError('missing_device_id', 'The homeserver did not say which device these tokens belong to.')
    return { user: { user_id: me.user_id, device_id: me.device_id }, scope: '' }
  }
  if (!d.metadata.userinfo_endpoint) {
    throw new BrokerError('invalid_request', 'The provider has no userinfo endpoint, so the broker cannot check these tokens.')
  }
  const { sub } = await userinfo(rt, d.metadata, clientId, tokens.access_token)
  return { user: { sub }, scope: '' }
}
