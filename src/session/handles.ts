// Session handles and broker codes carry their session's id: `<session_id>.<secret>`, so the
// Worker routes straight to the object (no lookup) and the object compares SHA-256(secret).
import { BrokerError, type ErrorCode } from '../http/errors'

const FORM = /^([0-9a-f]{64})\.([A-Za-z0-9_-]{43})$/

export function sessionStub(env: Env, token: string, code: ErrorCode, description: string) {
  const m = FORM.exec(token)
  let id: DurableObjectId | undefined
  try {
    id = m?.[1] ? env.SESSION.idFromString(m[1]) : undefined
  } catch {
    id = undefined // not an id this namespace minted
  }
  if (!id || !m?.[2]) throw new BrokerError(code, description)
  return { stub: env.SESSION.get(id), secret: m[2] }
}
