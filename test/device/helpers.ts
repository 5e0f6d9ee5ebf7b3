// Device login test helpers: the app's calls, the user at the provider's device pages (the
// real oidc-provider forms, driven with fetch and a cookie jar), and peeking at the object.
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { inject } from 'vitest'
import { APP } from '../constants'
import type * as z from 'zod'
import type { DeviceStart as DeviceStartSchema } from '../../src/device/openapi'
import { basic, postJson } from '../helpers'

export const CODE_FORM = /^[0-9a-f]{64}\.[A-Za-z0-9_-]{43}$/

/** The answer of POST /v1/device, from the schema the route is documented with. */
export type DeviceStart = z.infer<typeof DeviceStartSchema>

export const startDevice = (body: unknown, app: { id: string; secret: string } = APP) =>
  postJson('/v1/device', body, { authorization: basic(app) })
export const pollDevice = (code: string, app: { id: string; secret: string } = APP) =>
  postJson('/v1/device/poll', { device_code: code }, { authorization: basic(app) })

export async function started(body: unknown): Promise<DeviceStart> {
  const res = await startDevice(body)
  if (res.status !== 200) throw new Error(`POST /v1/device answered ${res.status}: ${await res.text()}`)
  return res.json()
}

/** The user, in a browser at the provider: opens verification_uri_complete, confirms (or aborts). */
export async function userAtProvider(verificationUriComplete: string, choice: 'approve' | 'abort' = 'approve'): Promise<string> {
  const jar = new Map<string, string>()
  const send = async (url: string, form?: Record<string, string>) => {
    const res = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    })
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const eq = pair.indexOf('=')
      jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim())
    }
    return res
  }
  const formOf = (html: string) => {
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
    const fields = Object.fromEntries(
      [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/>/g)].map((m) => [m[1]!, m[2]!]),
    )
    if (!action) throw new Error(`no form in: ${html.slice(0, 300)}`)
    return { action: new URL(action.replaceAll('&amp;', '&'), verificationUriComplete).href, fields }
  }
  // The page auto-posts the user code; then the confirmation form.
  const first = formOf(await (await send(verificationUriComplete)).text())
  const confirm = formOf(await (await send(first.action, first.fields)).text())
  const { confirm: _c, ...rest } = confirm.fields
  let res = await send(confirm.action, choice === 'approve' ? confirm.fields : { ...rest, abort: 'yes' })
  // Approval goes through the provider's interaction (auto-login of alice) and back.
  for (let i = 0; i < 10 && res.status >= 300 && res.status < 400; i++) {
    const next = new URL(res.headers.get('location')!, verificationUriComplete).href
    await res.body?.cancel()
    res = await send(next)
  }
  return res.text()
}

export const times = async (providerId: number): Promise<Record<string, number[]>> =>
  (await fetch(`${inject('labUrl')}/providers/${providerId}/times`)).json()

export const stubOf = (code: string) => env.DEVICE_LOGIN.get(env.DEVICE_LOGIN.idFromString(code.split('.')[0]!))

export interface Peek {
  state: string
  interval: number
  next_poll_at: number
  expires_at: number
  polls: number
  paused?: boolean
  tokens?: unknown
  cleanup_at: number
  last_app_poll_at: number
}

type Obj = { record: Peek | undefined; save(r: Peek): void; alarm(): Promise<void>; lastAppPoll: number }

export const peek = (code: string) => runInDurableObject(stubOf(code), async (o) => (o as unknown as Obj).record)

/** Changes the stored record (time passing, in a test). */
export const patch = (code: string, change: Partial<Peek>) =>
  runInDurableObject(stubOf(code), async (o) => {
    const obj = o as unknown as Obj
    if (obj.record) obj.save({ ...obj.record, ...change })
  })

/** Time passes until the next provider poll is due, and the alarm runs (awaited). */
export const pollNow = (code: string) =>
  runInDurableObject(stubOf(code), async (o) => {
    const obj = o as unknown as Obj
    if (obj.record) obj.save({ ...obj.record, next_poll_at: Date.now() })
    await obj.alarm()
  })

/** Runs the alarm as the runtime would, without moving time. */
export const alarmNow = (code: string) => runInDurableObject(stubOf(code), async (o) => (o as unknown as Obj).alarm())

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls as a well-behaved app: waits Retry-After between polls, until anything but pending. */
export async function pollUntilDone(code: string, maxMs = 30_000): Promise<Response> {
  const until = Date.now() + maxMs
  for (;;) {
    const res = await pollDevice(code)
    if (res.status === 400) {
      const body = await res.clone().json<{ error: string }>()
      if ((body.error === 'authorization_pending' || body.error === 'slow_down') && Date.now() < until) {
        await sleep(Number(res.headers.get('retry-after') ?? '1') * 1000)
        continue
      }
    }
    return res
  }
}
