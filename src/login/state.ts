// The pending login travels sealed in the OAuth `state` (JWE, dir + A256GCM, key derived from
// STATE_SECRET): a login redirect needs no storage write. It is opened only by the broker,
// expires after STATE_TTL, and its single use is enforced by the Session object it names.
import { EncryptJWT, jwtDecrypt } from 'jose'
import * as z from 'zod'
import { deriveKey } from '../crypto/keys'
import { BrokerError } from '../http/errors'

export const STATE_TTL_SECONDS = 600

export const PendingLogin = z.object({
  /** Transaction id; names the Session object that will own the session. */
  txn: z.string().min(16).max(64),
  app: z.string(),
  return_to: z.string(),
  app_state: z.string().optional(),
  issuer: z.string(),
  homeserver: z.string().optional(),
  client_id: z.string(),
  redirect_uri: z.string(),
  code_verifier: z.string(),
  nonce: z.string(),
  scope: z.string(),
  device_id: z.string().optional(),
  /** `app`: POST /v1/login (the app-bound broker code binds it); else SHA-256 of the browser cookie. */
  binding: z.union([z.literal('app'), z.string().regex(/^[0-9a-f]{64}$/)]),
  /** Scope upgrade of an existing session (POST /v1/session/scope). */
  session_id: z.string().optional(),
})
export type PendingLogin = z.infer<typeof PendingLogin>

const key = (secret: string) => deriveKey(secret, 'login-state v1')

export async function sealState(secret: string, login: PendingLogin, nowSeconds: number): Promise<string> {
  return new EncryptJWT({ l: login })
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + STATE_TTL_SECONDS)
    .encrypt(await key(secret))
}

/** Opens a state; anything wrong with it (forged, tampered, expired, foreign) is `invalid_state`. */
export async function openState(secret: string, state: string): Promise<PendingLogin> {
  try {
    const { payload } = await jwtDecrypt(state, await key(secret), {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
      maxTokenAge: STATE_TTL_SECONDS,
    })
    return PendingLogin.parse(payload.l)
  } catch {
    throw new BrokerError('invalid_state', 'This login link is unknown, expired or already used. Start the login again.')
  }
}
