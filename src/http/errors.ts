// The one error model of the broker: every failure is a BrokerError with a stable code from the
// catalog below, and `toWire` is the only place that turns anything thrown into the contract's
// `{"error","error_description"}` body. Dependency messages and stacks never reach the wire.

/** Every error code the broker can answer with, and its HTTP status. */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_grant: 400,
  invalid_state: 400,
  invalid_callback: 400,
  invalid_device_id: 400,
  access_denied: 400,
  // RFC 8628 §3.5, POST /v1/device/poll
  authorization_pending: 400,
  slow_down: 400,
  expired_token: 400,
  invalid_app: 401,
  invalid_session: 401,
  reauth_required: 401,
  not_found: 404,
  not_supported: 404,
  no_authentication_issuer: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  misconfigured: 500,
  server_error: 500,
  discovery_failed: 502,
  authorization_failed: 502,
  missing_device_id: 502,
  registration_not_supported: 502,
  registration_failed: 502,
  provider_unavailable: 503,
  temporarily_unavailable: 503,
  provider_timeout: 504,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode]

export interface WireError {
  error: ErrorCode
  error_description: string
}

export class BrokerError extends Error {
  readonly code: ErrorCode
  readonly status: ErrorStatus
  /** Extra response headers, e.g. Retry-After or WWW-Authenticate. */
  readonly headers: Readonly<Record<string, string>>

  /** The provider's own OAuth error code behind this error, if any (never on the wire by itself). */
  providerCode: string | undefined

  constructor(code: ErrorCode, description: string, headers: Record<string, string> = {}) {
    super(description)
    this.name = 'BrokerError'
    this.code = code
    this.status = ERROR_STATUS[code]
    this.headers = headers
    this.providerCode = undefined
  }

  get description(): string {
    return this.message
  }
}

export function isBrokerError(e: unknown): e is BrokerError {
  return e instanceof BrokerError
}

/** Server-side only: the name and message of an unexpected error, never its stack on the wire. */
export function logUnexpected(e: unknown, requestId: string): void {
  console.error(
    JSON.stringify({
      level: 'error',
      request_id: requestId,
      error: (e as Error)?.name,
      message: String((e as Error)?.message ?? e).slice(0, 300),
    }),
  )
}

/** Anything thrown → the wire body and status. Unknown errors keep only the request id. */
export function toWire(e: unknown, requestId: string): { status: ErrorStatus; body: WireError; headers: Record<string, string> } {
  if (isBrokerError(e)) {
    return { status: e.status, body: { error: e.code, error_description: e.description }, headers: { ...e.headers } }
  }
  return {
    status: 500,
    body: { error: 'server_error', error_description: `Unexpected error (request id ${requestId}).` },
    headers: {},
  }
}

/**
 * Errors do not keep their class across a Durable Object RPC, so objects answer with an
 * Outcome and the caller rethrows it as the same BrokerError.
 */
export type Outcome<T> =
  { ok: true; value: T } | { ok: false; error: { code: ErrorCode; description: string; headers: Record<string, string> } }

export async function settle<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() }
  } catch (e) {
    if (e instanceof BrokerError) return { ok: false, error: { code: e.code, description: e.description, headers: { ...e.headers } } }
    throw e
  }
}

export function unwrap<T>(o: Outcome<T>): T {
  if (o.ok) return o.value
  throw new BrokerError(o.error.code, o.error.description, o.error.headers)
}
