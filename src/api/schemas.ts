// The broker's answers as zod schemas: the typed client validates with them, and the OpenAPI
// document is generated from them (and from the request schemas of the route modules).
import * as z from 'zod'
import { ERROR_STATUS } from '../http/errors'

export const ErrorBody = z.object({
  error: z.enum(Object.keys(ERROR_STATUS) as [keyof typeof ERROR_STATUS, ...(keyof typeof ERROR_STATUS)[]]),
  error_description: z.string(),
})

export const Health = z.object({ ok: z.literal(true) })

export const Discovery = z.object({
  issuer: z.string(),
  metadata: z.looseObject({ issuer: z.string(), authorization_endpoint: z.string(), token_endpoint: z.string() }),
  source: z.enum(['auth_metadata', 'auth_issuer', 'openid-configuration', 'oauth-authorization-server']),
  homeserver: z.string().optional(),
})

export const Registration = z.object({ issuer: z.string(), client_id: z.string(), source: z.enum(['static', 'cached', 'registered']) })

export const LoginUrl = z.object({ url: z.string(), expires_at: z.number().int() })

export const User = z.object({ sub: z.string().optional(), user_id: z.string().optional(), device_id: z.string().optional() })

export const CreatedSession = z.object({
  session: z.string().describe('The session handle: returned once, send it as Authorization: Bearer.'),
  session_id: z.string(),
  issuer: z.string(),
  user: User,
  scope: z.string(),
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_at: z.number().int().nullable(),
})

export const SessionInfo = z.object({
  session_id: z.string(),
  issuer: z.string(),
  user: User,
  scope: z.string(),
  expires_at: z.number().int().nullable(),
  created_at: z.number().int(),
  refreshed_at: z.number().int().nullable(),
  refresh_count: z.number().int(),
  state: z.enum(['active', 'reauth_required']),
})

export const Token = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_at: z.number().int().nullable(),
  scope: z.string(),
  refreshed: z.boolean(),
})

export const Logout = z.object({
  revoked: z.object({ access_token: z.boolean(), refresh_token: z.boolean() }),
  end_session_url: z.string().optional(),
})

export const Url = z.object({ url: z.string() })

export type ErrorBody = z.infer<typeof ErrorBody>
export type DiscoveryAnswer = z.infer<typeof Discovery>
export type RegistrationAnswer = z.infer<typeof Registration>
export type LoginUrlAnswer = z.infer<typeof LoginUrl>
export type CreatedSessionAnswer = z.infer<typeof CreatedSession>
export type SessionInfoAnswer = z.infer<typeof SessionInfo>
export type TokenAnswer = z.infer<typeof Token>
export type LogoutAnswer = z.infer<typeof Logout>
