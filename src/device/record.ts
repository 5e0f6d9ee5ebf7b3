// What one DeviceLogin object stores: one record; the provider's device code, the tokens and
// the client secret sealed at rest (TOKEN_ENCRYPTION_KEY), the broker code as SHA-256 only.
import type { ProviderMetadata } from '../discovery/metadata'
import type { ErrorCode } from '../http/errors'
import type { AuthMethod } from '../registration/client-metadata'
import type { SealedTokens } from '../session/record'

export const DEVICE_SCHEMA_VERSION = 1

/**
 * pending → approved (tokens held until the app polls) → redeeming → (deleted);
 * pending → denied | expired | failed (kept until cleanup so the app learns why).
 */
export type DeviceState = 'pending' | 'approved' | 'redeeming' | 'denied' | 'expired' | 'failed'

export interface DeviceRecord {
  v: typeof DEVICE_SCHEMA_VERSION
  state: DeviceState
  app: string
  issuer: string
  homeserver?: string
  metadata: ProviderMetadata
  client: { client_id: string; client_secret_sealed?: string; token_endpoint_auth_method: AuthMethod }
  /** The scope asked for, and the Matrix device ID it names (if any). */
  scope: string
  device_id?: string
  /** The provider's device code, sealed: it never leaves this object. */
  provider_device_code: string
  /** Hex SHA-256 of the secret half of the broker's device code. */
  code_sha256: string
  /** Times in milliseconds since the epoch. */
  created_at: number
  expires_at: number
  /** Seconds between device access token requests: the provider's, +5 s per slow_down. */
  interval: number
  /** The earliest time of the next device access token request. */
  next_poll_at: number
  /** Consecutive transient failures (network, 5xx), for the backoff. */
  failures: number
  /** Device access token requests made so far. */
  polls: number
  /** The app's last poll, written at most every LAST_POLL_WRITE_MS. */
  last_app_poll_at: number
  /** Set when polling stopped because the app stopped asking; its next poll resumes it. */
  paused?: boolean
  /** When the object deletes itself (revoking tokens nobody claimed). */
  cleanup_at: number
  tokens?: SealedTokens
  user?: { sub?: string; user_id?: string; device_id?: string }
  granted_scope?: string
  /** Why a `failed` login failed, answered to the app's polls. */
  error?: { code: ErrorCode; description: string }
}

export const deviceKeys = { schema: 'schema_version', record: 'device' } as const
