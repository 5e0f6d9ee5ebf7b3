// Configuration of the broker, as the contract names it. Every variable is parsed by its own
// schema so that a broken one can be named (never echoed) in the `misconfigured` error.
import * as z from 'zod'

const httpsOrLoopbackUrl = z.url({ protocol: /^https?$/ })

/** A URL an app may be sent back to: absolute, no fragment (RFC 6749 §3.1.2), no script schemes. */
const returnUrl = z
  .url()
  .refine((u) => !u.includes('#'), 'must not contain a fragment')
  .refine((u) => !/^(javascript|data|vbscript|file|blob):/i.test(u), 'scheme not allowed')

export const AppSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9._~-]{1,64}$/, 'id: 1-64 URL-safe characters'),
  secret_sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'hex SHA-256')
    .transform((s) => s.toLowerCase()),
  return_urls: z.array(returnUrl).min(1).max(50),
  client_name: z.string().min(1).max(200),
  client_uri: httpsOrLoopbackUrl.optional(),
  logo_uri: httpsOrLoopbackUrl.optional(),
  policy_uri: httpsOrLoopbackUrl.optional(),
  tos_uri: httpsOrLoopbackUrl.optional(),
  contacts: z.array(z.string().min(1).max(320)).max(20).optional(),
  allowed_issuers: z.array(z.url()).optional(),
  allowed_homeservers: z.array(z.string().min(1)).optional(),
})
export type App = z.infer<typeof AppSchema>

export const StaticRegistrationSchema = z.object({
  client_id: z.string().min(1),
  client_secret: z.string().min(1).optional(),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'none']).optional(),
})
export type StaticRegistration = z.infer<typeof StaticRegistrationSchema>

const json = <T extends z.ZodType>(inner: T) =>
  z
    .string()
    .transform((s, ctx): unknown => {
      try {
        return JSON.parse(s)
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' })
        return z.NEVER
      }
    })
    .pipe(inner)

const bool = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1')

const positiveInt = (dflt: number, max: number) => z.coerce.number().int().positive().max(max).optional().default(dflt)

/** One schema per variable, so a failure names exactly one of them. */
export const VARIABLES = {
  BROKER_APPS: json(z.array(AppSchema).refine((apps) => new Set(apps.map((a) => a.id)).size === apps.length, 'app ids must be unique')),
  STATIC_REGISTRATIONS: json(z.record(z.url(), StaticRegistrationSchema)).optional(),
  ALLOW_INSECURE_ISSUERS: bool,
  PUBLIC_URL: httpsOrLoopbackUrl
    .transform((u) => new URL(u))
    .refine((u) => u.pathname === '/' && !u.search && !u.hash, 'must be an origin (no path, query or fragment)')
    .transform((u) => u.origin)
    .optional(),
  STATE_SECRET: z.string().min(32, 'must be at least 32 characters'),
  TOKEN_ENCRYPTION_KEY: z
    .string()
    .regex(/^[\w-]{1,32}:[A-Za-z0-9_-]{43}(,[\w-]{1,32}:[A-Za-z0-9_-]{43})*$/, 'must be "kid:<base64url of 32 bytes>[,…]"')
    .optional(),
  SOFTWARE_STATEMENT: z
    .string()
    .regex(/^[\w-]+\.[\w-]+\.[\w-]*$/, 'must be a JWS')
    .optional(),
  PROVIDER_TIMEOUT_MS: positiveInt(5_000, 60_000),
  LOG_LEVEL: z.enum(['info', 'warn']).optional(),
  REFRESH_AHEAD_SECONDS: positiveInt(120, 86_400),
  REFRESH_IDLE_SECONDS: positiveInt(3_600, 30 * 86_400),
} as const

export type VariableName = keyof typeof VARIABLES
