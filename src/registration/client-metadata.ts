// The client metadata the broker registers for one app at one provider (RFC 7591), in a
// canonical form whose hash keys the stored registration: change the metadata, re-register.
import type { App } from '../config/schema'
import type { ProviderMetadata } from '../discovery/metadata'
import { BrokerError } from '../http/errors'

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none'

/**
 * A confidential client, since the broker is a server that can keep a secret: Basic (the one
 * RFC 6749 §2.3.1 makes everyone support), then POST; `none` (PKCE only) just when the
 * provider offers nothing else. Absent list = RFC 8414's default, client_secret_basic.
 */
export function chooseAuthMethod(md: ProviderMetadata): AuthMethod {
  const offered = md.token_endpoint_auth_methods_supported ?? ['client_secret_basic']
  for (const m of ['client_secret_basic', 'client_secret_post', 'none'] as const) if (offered.includes(m)) return m
  throw new BrokerError(
    'registration_failed',
    `Registration at ${md.issuer} failed: the provider offers no client authentication the broker supports (client_secret_basic, client_secret_post, none).`,
  )
}

export interface ClientMetadataInput {
  app: App
  provider: ProviderMetadata
  /** The broker's origin, e.g. https://broker.example.com. */
  origin: string
  /** Registering through a Matrix homeserver: the Matrix spec's client-registration rules apply. */
  matrix: boolean
  softwareStatement: string | undefined
}

export interface ClientMetadata {
  metadata: Record<string, unknown>
  /** App URIs left out because a Matrix server would refuse them (not on the client_uri host). */
  dropped: string[]
}

export const callbackUrl = (origin: string) => `${origin}/v1/callback`
export const appPageUrl = (origin: string, appId: string) => `${origin}/apps/${encodeURIComponent(appId)}`

export function buildClientMetadata(input: ClientMetadataInput): ClientMetadata {
  const { app, provider, origin, matrix } = input
  const dropped: string[] = []
  // Matrix (MSC2966): client_uri is required and every other URI must sit on its host. The
  // redirect URI is the broker's, so for homeservers client_uri is the broker's page of the app.
  const clientUri = matrix ? appPageUrl(origin, app.id) : app.client_uri
  const host = new URL(origin).hostname
  const onHost = (u: string | undefined, field: string) => {
    if (u === undefined || !matrix) return u
    const h = new URL(u).hostname
    if (h === host || h.endsWith(`.${host}`)) return u
    dropped.push(field)
    return undefined
  }
  const postLogout = app.return_urls.filter((u) => onHost(u, 'post_logout_redirect_uris') !== undefined)
  const metadata: Record<string, unknown> = {
    application_type: 'web',
    client_name: app.client_name,
    client_uri: clientUri,
    logo_uri: onHost(app.logo_uri, 'logo_uri'),
    policy_uri: onHost(app.policy_uri, 'policy_uri'),
    tos_uri: onHost(app.tos_uri, 'tos_uri'),
    contacts: app.contacts,
    redirect_uris: [callbackUrl(origin)],
    post_logout_redirect_uris: postLogout.length ? [...new Set(postLogout)].sort() : undefined,
    grant_types: [
      'authorization_code',
      'refresh_token',
      // RFC 8628, for POST /v1/device, where the provider offers it.
      ...(provider.device_authorization_endpoint && (provider.grant_types_supported ?? []).includes(DEVICE_CODE_GRANT)
        ? [DEVICE_CODE_GRANT]
        : []),
    ],
    response_types: ['code'],
    token_endpoint_auth_method: chooseAuthMethod(provider),
    software_statement: input.softwareStatement,
  }
  for (const k of Object.keys(metadata)) if (metadata[k] === undefined) delete metadata[k]
  return { metadata, dropped: [...new Set(dropped)] }
}
