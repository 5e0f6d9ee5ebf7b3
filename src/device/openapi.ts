// The device login routes as OpenAPI operations, for src/api/openapi.ts:
// `buildOpenApi([...DEVICE_OPERATIONS, ...RENDEZVOUS_OPERATIONS])`.
import * as z from 'zod'
import type { Operation } from '../api/openapi'
import * as A from '../api/schemas'
import { DeviceBody, PollBody } from './routes'

export const DeviceStart = z.object({
  device_code: z.string().describe('The broker’s device code (<object id>.<secret>), bound to this app: poll with it.'),
  user_code: z.string(),
  verification_uri: z.string(),
  verification_uri_complete: z.string().optional(),
  expires_in: z.number().int(),
  interval: z.number().int().describe('Seconds between polls (RFC 8628); also see Retry-After on each poll answer.'),
  device_id: z.string().optional().describe('Matrix: the device the session will be.'),
})

const json = ['invalid_request', 'payload_too_large', 'unsupported_media_type'] as const

export const DEVICE_OPERATIONS: Operation[] = [
  {
    method: 'post',
    path: '/v1/device',
    summary: 'Start a device login (RFC 8628 device authorization grant)',
    auth: 'app',
    body: DeviceBody,
    ok: { status: 200, schema: DeviceStart, description: 'What the user needs, and the broker’s device code' },
    errors: [
      ...json,
      'invalid_app',
      'invalid_device_id',
      'discovery_failed',
      'no_authentication_issuer',
      'not_supported',
      'registration_not_supported',
      'registration_failed',
      'authorization_failed',
      'provider_timeout',
    ],
  },
  {
    method: 'post',
    path: '/v1/device/poll',
    summary: 'Poll a device login: its last known state, or the session once approved',
    auth: 'app',
    body: PollBody,
    ok: { status: 201, schema: A.CreatedSession, description: 'The session (the handle is returned once)' },
    errors: [
      ...json,
      'invalid_app',
      'invalid_grant',
      'authorization_pending',
      'slow_down',
      'expired_token',
      'access_denied',
      'authorization_failed',
      'missing_device_id',
      'temporarily_unavailable',
    ],
  },
]
