// Request bodies and queries of the routes, as zod schemas: the routes validate with them, the
// OpenAPI document is generated from them. (Login's own fields live in src/login/authorize.ts.)
import * as z from 'zod'
import { TargetFields } from '../discovery/target'
import { LoginFields, SCOPE_TOKENS } from '../login/authorize'

export const LoginBody = z.object({ ...LoginFields, return_to: z.string().max(2048) }).strict()
export const SessionsBody = z.object({ code: z.string().max(512) }).strict()
export const EmptyBody = z.object({}).strict()
export const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'hex SHA-256')
export const TokenBody = z
  .object({ min_ttl: z.number().int().min(0).max(86_400).optional(), stale_token_sha256: hex64.optional() })
  .strict()
export const LogoutBody = z
  .object({ post_logout_redirect_uri: z.string().max(2048).optional(), state: z.string().max(1024).optional() })
  .strict()
export const AccountQuery = z
  .object({
    action: z
      .string()
      .regex(/^[\w.:-]{1,128}$/)
      .optional(),
    device_id: z
      .string()
      .regex(/^[A-Za-z0-9._~-]{1,255}$/)
      .optional(),
  })
  .strict()
export const ScopeBody = z
  .object({
    scope: z.string().min(1).max(2048).regex(SCOPE_TOKENS, 'space-separated scope tokens'),
    return_to: z.string().max(2048),
    state: z.string().max(1024).optional(),
  })
  .strict()
export const ImportBody = z
  .object({
    ...TargetFields,
    client_id: z.string().min(1).max(512),
    /** Extension: the scope the tokens were granted, when the app knows it. */
    scope: z.string().max(2048).optional(),
    tokens: z
      .object({
        access_token: z.string().min(1).max(16_384),
        refresh_token: z.string().min(1).max(16_384),
        id_token: z.string().max(16_384).optional(),
        expires_at: z.number().int().positive().optional(),
      })
      .strict(),
  })
  .strict()
