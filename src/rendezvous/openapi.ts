// The rendezvous routes as OpenAPI operations, for src/api/openapi.ts. They speak the Matrix
// wire format (errors are {"errcode","error"}), so they list no broker error codes.
import * as z from 'zod'
import type { Operation } from '../api/openapi'
import { MSC4108_PATH, MSC4388_PATH } from './routes'

const Created4388 = z.object({ id: z.string(), sequence_token: z.string(), expires_in_ms: z.number().int() })
const Payload4388 = z.object({ data: z.string(), sequence_token: z.string(), expires_in_ms: z.number().int() })
const Put4388 = z.object({ sequence_token: z.string(), data: z.string().describe('At most 4096 bytes of UTF-8.') })

export const RENDEZVOUS_OPERATIONS: Operation[] = [
  {
    method: 'post',
    path: MSC4108_PATH,
    summary: 'MSC4108 (2024): create a rendezvous session; the body is the text/plain payload (≤ 4096 bytes)',
    auth: 'none',
    ok: {
      status: 201,
      schema: z.object({ url: z.string() }),
      description: 'The session URL (also in Location), with ETag, Expires, Last-Modified',
    },
    errors: [],
  },
  {
    method: 'get',
    path: `${MSC4108_PATH}/{id}`,
    summary: 'MSC4108: the payload (text/plain); 304 for If-None-Match of the current ETag',
    auth: 'none',
    ok: { status: 200, description: 'The payload, text/plain' },
    errors: [],
  },
  {
    method: 'put',
    path: `${MSC4108_PATH}/{id}`,
    summary: 'MSC4108: replace the payload (text/plain) if If-Match is the current ETag; else 412 M_CONCURRENT_WRITE',
    auth: 'none',
    ok: { status: 202, description: 'Accepted, with the new ETag' },
    errors: [],
  },
  {
    method: 'delete',
    path: `${MSC4108_PATH}/{id}`,
    summary: 'MSC4108: end the session',
    auth: 'none',
    ok: { status: 204, description: 'Deleted' },
    errors: [],
  },
  {
    method: 'get',
    path: MSC4388_PATH,
    summary: 'MSC4388: is the rendezvous available?',
    auth: 'none',
    ok: { status: 200, schema: z.object({ create_available: z.boolean() }), description: 'Yes' },
    errors: [],
  },
  {
    method: 'post',
    path: MSC4388_PATH,
    summary: 'MSC4388: create a rendezvous session with an initial payload',
    auth: 'none',
    body: z.object({ data: z.string() }),
    ok: { status: 200, schema: Created4388, description: 'The session' },
    errors: [],
  },
  {
    method: 'get',
    path: `${MSC4388_PATH}/{id}`,
    summary: 'MSC4388: the payload and its sequence token',
    auth: 'none',
    ok: { status: 200, schema: Payload4388, description: 'The payload' },
    errors: [],
  },
  {
    method: 'put',
    path: `${MSC4388_PATH}/{id}`,
    summary: 'MSC4388: compare-and-swap the payload on sequence_token; else 409 IO_ELEMENT_MSC4388_CONCURRENT_WRITE',
    auth: 'none',
    body: Put4388,
    ok: { status: 200, schema: z.object({ sequence_token: z.string() }), description: 'The new sequence token' },
    errors: [],
  },
  {
    method: 'delete',
    path: `${MSC4388_PATH}/{id}`,
    summary: 'MSC4388: end the session',
    auth: 'none',
    ok: { status: 200, schema: z.object({}), description: 'Deleted' },
    errors: [],
  },
]
