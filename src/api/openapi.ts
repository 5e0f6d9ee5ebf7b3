// OpenAPI 3.1, generated from the zod schemas (zod 4's own JSON Schema output). The table
// below is the API as a user reads it; a test checks it against the app's real routes and
// the error catalog.
import * as z from 'zod'
import { TargetSchema } from '../discovery/target'
import { ERROR_STATUS, type ErrorCode } from '../http/errors'
import { LoginOptions } from '../login/authorize'
import { AccountQuery, EmptyBody, ImportBody, LoginBody, LogoutBody, ScopeBody, SessionsBody, TokenBody } from './requests'
import * as A from './schemas'

type Auth = 'none' | 'app' | 'session'

export interface Operation {
  method: 'get' | 'post' | 'put' | 'delete'
  path: string
  summary: string
  auth: Auth
  query?: z.ZodObject
  body?: z.ZodType
  ok: { status: number; schema?: z.ZodType; description: string; html?: boolean; redirect?: boolean }
  errors: ErrorCode[]
}

const target = ['invalid_request', 'discovery_failed', 'no_authentication_issuer', 'provider_timeout'] as const
const json = ['invalid_request', 'payload_too_large', 'unsupported_media_type'] as const
const session = ['invalid_session'] as const

export const OPERATIONS: Operation[] = [
  {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness',
    auth: 'none',
    ok: { status: 200, schema: A.Health, description: 'The Worker runs' },
    errors: [],
  },
  {
    method: 'get',
    path: '/v1/discovery',
    summary: 'Discover a provider by issuer or Matrix homeserver',
    auth: 'none',
    query: TargetSchema,
    ok: { status: 200, schema: A.Discovery, description: 'Validated metadata' },
    errors: [...target, 'misconfigured'],
  },
  {
    method: 'post',
    path: '/v1/registrations',
    summary: 'The broker’s client at a provider (static or RFC 7591)',
    auth: 'app',
    body: TargetSchema,
    ok: { status: 200, schema: A.Registration, description: 'The registration' },
    errors: [...target, ...json, 'invalid_app', 'registration_not_supported', 'registration_failed'],
  },
  {
    method: 'get',
    path: '/v1/login',
    summary: 'Browser login: redirect to the provider',
    auth: 'none',
    query: LoginOptions.extend({ app: z.string(), return_to: z.string() }),
    ok: { status: 302, description: 'To the provider, or back to return_to with error', redirect: true },
    errors: ['invalid_request'],
  },
  {
    method: 'post',
    path: '/v1/login',
    summary: 'Login URL for apps that open it themselves',
    auth: 'app',
    body: LoginBody,
    ok: { status: 200, schema: A.LoginUrl, description: 'The authorization URL' },
    errors: [...target, ...json, 'invalid_app', 'invalid_device_id', 'registration_not_supported', 'registration_failed'],
  },
  {
    method: 'get',
    path: '/v1/callback',
    summary: 'The provider’s redirect back to the broker',
    auth: 'none',
    ok: { status: 302, description: 'To return_to with a broker code (or an error)', redirect: true },
    errors: ['invalid_state', 'invalid_callback', 'access_denied', 'authorization_failed', 'temporarily_unavailable', 'missing_device_id'],
  },
  {
    method: 'post',
    path: '/v1/sessions',
    summary: 'Redeem a broker code for a session handle',
    auth: 'app',
    body: SessionsBody,
    ok: { status: 201, schema: A.CreatedSession, description: 'The session (the handle is returned once)' },
    errors: [...json, 'invalid_app', 'invalid_grant'],
  },
  {
    method: 'post',
    path: '/v1/sessions/import',
    summary: 'Restore a session obtained elsewhere',
    auth: 'app',
    body: ImportBody,
    ok: { status: 201, schema: A.CreatedSession, description: 'The session' },
    errors: [...target, ...json, 'invalid_app', 'invalid_grant', 'missing_device_id'],
  },
  {
    method: 'get',
    path: '/v1/session',
    summary: 'Session metadata (no token)',
    auth: 'session',
    ok: { status: 200, schema: A.SessionInfo, description: 'The session' },
    errors: [...session],
  },
  {
    method: 'post',
    path: '/v1/session/token',
    summary: 'The current access token, refreshed when needed',
    auth: 'session',
    body: TokenBody,
    ok: { status: 200, schema: A.Token, description: 'A token' },
    errors: [...session, ...json, 'reauth_required', 'provider_unavailable'],
  },
  {
    method: 'post',
    path: '/v1/session/refresh',
    summary: 'A refreshed access token (concurrent calls share one refresh)',
    auth: 'session',
    body: EmptyBody,
    ok: { status: 200, schema: A.Token, description: 'A new token' },
    errors: [...session, ...json, 'reauth_required', 'provider_unavailable'],
  },
  {
    method: 'post',
    path: '/v1/session/logout',
    summary: 'Revoke the tokens (RFC 7009) and end the session',
    auth: 'session',
    body: LogoutBody,
    ok: { status: 200, schema: A.Logout, description: 'What was revoked' },
    errors: [...session, ...json],
  },
  {
    method: 'get',
    path: '/v1/session/account',
    summary: 'The provider’s account management URL (MSC4191)',
    auth: 'session',
    query: AccountQuery,
    ok: { status: 200, schema: A.Url, description: 'The URL' },
    errors: [...session, 'invalid_request', 'not_supported'],
  },
  {
    method: 'post',
    path: '/v1/session/scope',
    summary: 'Authorize extra scopes into this session',
    auth: 'session',
    body: ScopeBody,
    ok: { status: 200, schema: A.LoginUrl, description: 'The authorization URL' },
    errors: [...session, ...json, 'reauth_required', 'discovery_failed', 'provider_timeout'],
  },
  {
    method: 'get',
    path: '/v1/session/events',
    summary: 'Live token events (WebSocket)',
    auth: 'session',
    ok: { status: 101, description: 'WebSocket: tokens_refreshed, reauth_required, logged_out' },
    errors: [...session, 'invalid_request'],
  },
  {
    method: 'get',
    path: '/apps/{id}',
    summary: 'Public page of an app (the client_uri at Matrix servers)',
    auth: 'none',
    ok: { status: 200, description: 'HTML', html: true },
    errors: [],
  },
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    auth: 'none',
    ok: { status: 200, description: 'OpenAPI 3.1' },
    errors: [],
  },
  {
    method: 'get',
    path: '/docs',
    summary: 'Interactive API docs',
    auth: 'none',
    ok: { status: 200, description: 'HTML', html: true },
    errors: [],
  },
]

const schema = (s: z.ZodType) =>
  z.toJSONSchema(s, { target: 'draft-2020-12', unrepresentable: 'any', io: 'input' }) as Record<string, unknown>

function parameters(q: z.ZodObject) {
  const js = schema(q) as { properties?: Record<string, unknown>; required?: string[] }
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: js.required?.includes(name) ?? false,
    schema: s,
  }))
}

export function buildOpenApi(extra: Operation[] = []): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const op of [...OPERATIONS, ...extra]) {
    const responses: Record<string, unknown> = {
      [op.ok.status]: {
        description: op.ok.description,
        ...(op.ok.schema ? { content: { 'application/json': { schema: schema(op.ok.schema) } } } : {}),
        ...(op.ok.html ? { content: { 'text/html': { schema: { type: 'string' } } } } : {}),
      },
    }
    for (const code of [...new Set(op.errors)]) {
      const status = String(ERROR_STATUS[code])
      const prev = responses[status] as { description: string } | undefined
      responses[status] = {
        description: prev ? `${prev.description}, ${code}` : code,
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      }
    }
    paths[op.path] ??= {}
    paths[op.path]![op.method] = {
      summary: op.summary,
      operationId: `${op.method}${op.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : ''))}`,
      ...(op.auth === 'app' ? { security: [{ app: [] }] } : op.auth === 'session' ? { security: [{ session: [] }] } : {}),
      ...(op.query
        ? { parameters: parameters(op.query) }
        : op.path.includes('{id}')
          ? { parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }] }
          : {}),
      ...(op.body
        ? {
            requestBody: {
              required: op.method === 'post' && op.body !== EmptyBody && op.body !== TokenBody && op.body !== LogoutBody,
              content: { 'application/json': { schema: schema(op.body) } },
            },
          }
        : {}),
      responses,
      'x-error-codes': op.errors,
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Edge token broker',
      version: '1',
      description:
        'OAuth 2.0 / OpenID Connect token broker on Cloudflare Workers. Errors are {"error","error_description"} with Cache-Control: no-store.',
    },
    paths,
    components: {
      schemas: { Error: schema(A.ErrorBody) },
      securitySchemes: {
        app: { type: 'http', scheme: 'basic', description: 'App id and secret from BROKER_APPS' },
        session: { type: 'http', scheme: 'bearer', description: 'The session handle from POST /v1/sessions' },
      },
    },
  }
}
