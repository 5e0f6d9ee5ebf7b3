// Matrix scopes (MSC2967): openid, the client-API scope and the device scope, in the stable
// `urn:matrix:client:` form when the provider lists it, else the unstable MSC2967 form.
import { BrokerError } from '../http/errors'

const STABLE = 'urn:matrix:client:'
const UNSTABLE = 'urn:matrix:org.matrix.msc2967.client:'
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** A device ID fits in a scope token: unreserved URI characters only (MSC2967). */
export const DEVICE_ID = /^[A-Za-z0-9._~-]{1,255}$/

/** 10 random alphanumerics, as matrix-rust-sdk generates them (unbiased: rejection sampling). */
export function generateDeviceId(): string {
  let out = ''
  while (out.length < 10) {
    for (const b of crypto.getRandomValues(new Uint8Array(16))) {
      if (b < 248 && out.length < 10) out += ALPHANUMERIC[b % 62]
    }
  }
  return out
}

export function checkDeviceId(deviceId: string): string {
  if (!DEVICE_ID.test(deviceId)) {
    throw new BrokerError('invalid_device_id', 'The device ID must be 1-255 unreserved URI characters (A-Z a-z 0-9 . _ ~ -).')
  }
  return deviceId
}

export function matrixScopes(scopesSupported: readonly string[] | undefined, deviceId: string): string[] {
  const prefix = scopesSupported?.includes(`${STABLE}api:*`) ? STABLE : UNSTABLE
  return ['openid', `${prefix}api:*`, `${prefix}device:${deviceId}`]
}

/** The device ID a granted scope names, in either form. */
export function deviceFromScope(scope: string): string | undefined {
  for (const token of scope.split(' ')) {
    for (const prefix of [STABLE, UNSTABLE]) {
      if (token.startsWith(`${prefix}device:`)) return token.slice(prefix.length + 'device:'.length)
    }
  }
  return undefined
}
