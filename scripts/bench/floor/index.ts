// The floor: Worker → one Durable Object RPC → a constant, shaped like the broker's token
// answer. No routing library, no validation, no crypto. /plain answers the constant without
// the Durable Object (what the dev stack costs by itself), /plain-log the same with one log line.
import { DurableObject } from 'cloudflare:workers'

interface Env {
  FLOOR: DurableObjectNamespace<Floor>
}

const ANSWER = {
  access_token: 'floor-access-token-0123456789abcdefghijklmnopqrstu',
  token_type: 'Bearer',
  expires_at: 4102444800,
  scope: 'openid offline_access',
  refreshed: false,
}

export class Floor extends DurableObject<Env> {
  token() {
    return ANSWER
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    // The dev-stack reference: the same answer without the Durable Object.
    const path = new URL(request.url).pathname
    if (path === '/plain') return Response.json(ANSWER)
    // The same, plus one structured log line like the broker writes per request (LOG_LEVEL=info).
    if (path === '/plain-log') {
      console.log(
        JSON.stringify({
          level: 'info',
          request_id: crypto.randomUUID(),
          method: request.method,
          route: path,
          status: 200,
          duration_ms: 0,
          session: 'abcdef012345',
        }),
      )
      return Response.json(ANSWER)
    }
    const stub = env.FLOOR.get(env.FLOOR.idFromName('floor'))
    return Response.json(await stub.token())
  },
} satisfies ExportedHandler<Env>
