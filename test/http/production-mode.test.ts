// The broker with ALLOW_INSECURE_ISSUERS unset, as deployed: only https to public hosts.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, it } from 'vitest'
import worker from '../../src/index'
import { APP } from '../constants'
import { basic, expectError, homeserver, issuer } from '../helpers'

const production = { ...env, ALLOW_INSECURE_ISSUERS: 'false' } as Env

async function fetchProd(path: string, init?: RequestInit) {
  const ctx = createExecutionContext()
  const res = await worker.fetch(new Request(`https://broker.test${path}`, init), production, ctx)
  await waitOnExecutionContext(ctx)
  return res
}

describe('production mode refuses insecure and private targets (SSRF)', () => {
  it.each([
    ['the local http provider', issuer()],
    ['http', 'http://provider.example'],
    ['localhost', 'https://localhost'],
    ['a .localhost name', 'https://auth.localhost'],
    ['loopback', 'https://127.0.0.1'],
    ['loopback in hex', 'https://0x7f.0.0.1'],
    ['loopback as an integer', 'https://2130706433'],
    ['private 10/8', 'https://10.1.2.3'],
    ['private 172.16/12', 'https://172.20.0.1'],
    ['private 192.168/16', 'https://192.168.0.10'],
    ['link-local / metadata', 'https://169.254.169.254'],
    ['CGNAT', 'https://100.64.0.1'],
    ['unspecified', 'https://0.0.0.0'],
    ['IPv6 loopback', 'https://[::1]'],
    ['IPv4-mapped IPv6', 'https://[::ffff:127.0.0.1]'],
    ['IPv6 unique local', 'https://[fd00::1]'],
    ['IPv6 link-local', 'https://[fe80::1]'],
  ])('issuer: %s → 400 invalid_request', async (_name, url) => {
    await expectError(await fetchProd(`/v1/discovery?issuer=${encodeURIComponent(url)}`), 400, 'invalid_request', /not allowed/)
  })

  it.each([
    ['the local fake homeserver', homeserver('v1')],
    ['a private server name', '10.0.0.1'],
    ['a loopback server name with port', '127.0.0.1:8448'],
    ['localhost', 'localhost:8448'],
  ])('homeserver: %s → 400 invalid_request', async (_name, hs) => {
    await expectError(await fetchProd(`/v1/discovery?homeserver=${encodeURIComponent(hs)}`), 400, 'invalid_request', /not allowed/)
  })

  it('registration is refused the same way', async () => {
    const res = await fetchProd('/v1/registrations', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic(APP) },
      body: JSON.stringify({ issuer: 'https://192.168.1.1' }),
    })
    await expectError(res, 400, 'invalid_request', /not allowed/)
  })
})
