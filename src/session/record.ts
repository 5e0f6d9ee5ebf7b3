// What one Session object stores: one record, tokens and the client secret sealed at rest.
import type { ProviderMetadata } from '../discovery/metadata'
import type { AuthMethod } from '../registration/client-metadata'

export const SCHEMA_VERSION = 1

export type SessionState = 'pending' | 'failed' | 'active' | 'reauth_required'

export interface SealedTokens {
  access_token: string
  refresh_token?: string
  id_token?: string
  token_type: 'Bearer'
  expires_at?: number
}

export interface SessionRecord {
  v: typeof SCHEMA_VERSION
  state: SessionState
  app: string
  issuer: string
  homeserver?: string
  metadata?: ProviderMetadata
  client?: { client_id: string; client_secret_sealed?: string; token_endpoint_auth_method: AuthMethod }
  user?: { sub?: string; user_id?: string; device_id?: string }
  scope?: string
  tokens?: SealedTokens
  /** Hex SHA-256 of the handle secret, once the broker code was redeemed. */
  handle_sha256?: string
  code?: { sha256: string; app: string; expires_at: number; used: boolean }
  /** When the object deletes itself (unredeemed code, failed login, tombstone). */
  cleanup_at?: number
  /** Logins (txn) that upgraded this session's scope, so a scope callback completes once. */
  completed_txns?: string[]
  created_at: number
  refreshed_at?: number
  refresh_count: number
  /** Seconds since the epoch; written at most once a minute (proactive refresh needs it). */
  last_used_at?: number
}

/** Storage keys of the Session object (its synchronous KV API on SQLite). */
export const sessionKeys = { schema: 'schema_version', record: 'session' } as const
