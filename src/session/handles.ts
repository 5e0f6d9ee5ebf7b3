// Session handles and broker codes carry their session's id: `<session_id>.<secret>`, so the
// Worker routes straight to the object (no lookup) and the object compares SHA-256(secret).
import { BrokerError, type ErrorCode } from '../http/errors'

const FORM = /^([0-9a-f]{64})\.([A-Za-z0-9_-]{43})$/

/** The Session object of a session id, or `code` if it is not an id this namespace minted. */
export function stubForId(env: Env, sessionId: string, code: ErrorCode, description: string, headers?: Record<string, string>) {
  try {
    if (/^[0-9a-f]{64}$/.test(sessionId)) return env.SESSION.get(env.SESSION.idFromString(sessionId))
  } catch {
    // not an id this namespace minted
  }
  throw new BrokerError(code, description, headers)
}

export function sessionStub(env: Env, token: string, code: ErrorCode, description: string, headers?: Record<string, string>) {
  const m = FORM.exec(token)
  if (!m?.[1] || !m[2]) throw new BrokerError(code, description, headers)
  return { stub: stubForId(env, m[1], code, description, headers), secret: m[2] }
}
