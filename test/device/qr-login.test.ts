// MSC4108 sign-in with QR, end to end through the broker: the new device is an app of the
// broker (device grant), the existing device is any Matrix client, and they meet at the
// broker's MSC4388 rendezvous. The secure channel (HPKE, check code) is the clients' job and
// is stood in for here by plaintext messages; the broker only ever sees opaque strings.
import { describe, expect, it } from 'vitest'
import { call, homeserver } from '../helpers'
import { create4388, get4388, put4388, V4388 } from '../rendezvous/helpers'
import { pollDevice, pollNow, started, userAtProvider } from './helpers'

interface Channel {
  id: string
  token: string
}

/** SecureSend / SecureReceive, minus the encryption: a ping-pong on the rendezvous payload. */
async function send(ch: Channel, message: unknown) {
  const res = await put4388(ch.id, ch.token, JSON.stringify(message))
  expect(res.status).toBe(200)
  ch.token = (await res.json<{ sequence_token: string }>()).sequence_token
}

async function receive(ch: Channel): Promise<Record<string, unknown>> {
  for (let i = 0; i < 50; i++) {
    const body = await (await get4388(ch.id)).json<{ data: string; sequence_token: string }>()
    if (body.sequence_token !== ch.token) {
      ch.token = body.sequence_token
      return JSON.parse(body.data)
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error('nothing received')
}

describe('sign in with QR (MSC4108 over the MSC4388 rendezvous) with the broker’s device grant', () => {
  it('new device generates the QR; existing device scans, approves; new device gets its session', async () => {
    const hs = homeserver('v1')
    // New device (G): creates the rendezvous and shows {its key, rendezvous id, base URL} as a QR.
    const created = await create4388('')
    const newDevice: Channel = { id: created.id, token: created.sequence_token }
    // Existing device (S): scans, reads the session, and (after the handshake) offers protocols.
    const first = await (await get4388(created.id)).json<{ sequence_token: string }>()
    const existing: Channel = { id: created.id, token: first.sequence_token }
    await send(existing, { type: 'm.login.protocols', protocols: ['device_authorization_grant'], homeserver: hs })

    const protocols = await receive(newDevice)
    expect(protocols).toMatchObject({ type: 'm.login.protocols', protocols: ['device_authorization_grant'] })
    // New device: the device authorization grant through the broker, for the homeserver offered.
    const start = await started({ homeserver: protocols.homeserver })
    await send(newDevice, {
      type: 'm.login.protocol',
      protocol: 'device_authorization_grant',
      device_authorization_grant: { verification_uri: start.verification_uri, verification_uri_complete: start.verification_uri_complete },
      device_id: start.device_id,
    })

    // Existing device: opens the verification URI in a browser; the user consents there.
    const protocol = await receive(existing)
    expect(protocol).toMatchObject({ type: 'm.login.protocol', device_id: start.device_id })
    const grant = protocol.device_authorization_grant as { verification_uri_complete: string }
    expect(await userAtProvider(grant.verification_uri_complete)).toContain('Sign-in Success')
    await send(existing, { type: 'm.login.protocol_accepted' })

    // New device: polls the broker (which alone polls the provider) and gets its session.
    expect((await receive(newDevice)).type).toBe('m.login.protocol_accepted')
    await pollNow(start.device_code)
    const res = await pollDevice(start.device_code)
    expect(res.status).toBe(201)
    const session = await res.json<{ user: { user_id: string; device_id: string } }>()
    expect(session.user).toMatchObject({ user_id: '@alice:hs.test', device_id: start.device_id })
    await send(newDevice, { type: 'm.login.success' })

    expect((await receive(existing)).type).toBe('m.login.success')
    await send(existing, { type: 'm.login.secrets', cross_signing: '…' })
    expect((await receive(newDevice)).type).toBe('m.login.secrets')
    expect((await call(`${V4388}/${created.id}`, { method: 'DELETE' })).status).toBe(200)
  })
})
