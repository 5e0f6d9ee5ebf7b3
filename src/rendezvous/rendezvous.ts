// One Durable Object per rendezvous session (MSC4108 2024 version, MSC4388): a single shared,
// mutable, short-lived string that two devices overwrite in turn. The object is the
// compare-and-swap: every method reads and writes its synchronous storage without awaiting
// anything in between, so of two writes with the same ETag / sequence token exactly one wins.
// The payload is opaque here; the secure channel on top of it is the clients' business.
import { DurableObject } from 'cloudflare:workers'
import { randomToken } from '../crypto/hash'

export type RendezvousProtocol = 'msc4108' | 'msc4388'

/** MSC4388 "Maximum payload size" (and MSC4108's 4 KB): the UTF-8 length of the payload. */
export const MAX_PAYLOAD_BYTES = 4096
/** MSC4388 "Maximum duration": at least 120 s for usability, at most 300 s for security. */
export const RENDEZVOUS_TTL_MS = 300_000

export interface Snapshot {
  data: string
  /** The ETag (MSC4108, without quotes) or sequence_token (MSC4388): new for every write. */
  token: string
  /** Milliseconds since the epoch. */
  expires_at: number
  modified_at: number
}

export type WriteResult = { status: 'ok'; snapshot: Snapshot } | { status: 'conflict'; snapshot: Snapshot } | { status: 'not_found' }

interface RendezvousRecord extends Snapshot {
  v: 1
  protocol: RendezvousProtocol
  writes: number
}

const KEY = 'rendezvous'
/** Opaque identifier grammar (Matrix appendices), 32 characters. */
const newToken = () => randomToken(24)

export class Rendezvous extends DurableObject<Env> {
  /** The live session of this protocol, or nothing (unknown, other protocol, expired, deleted). */
  private live(protocol: RendezvousProtocol): RendezvousRecord | undefined {
    const r = this.ctx.storage.kv.get<RendezvousRecord>(KEY)
    if (!r || r.protocol !== protocol) return undefined
    if (Date.now() >= r.expires_at) {
      // The alarm may be late; an expired session is gone all the same.
      this.ctx.storage.kv.delete(KEY)
      return undefined
    }
    return r
  }

  async create(protocol: RendezvousProtocol, data: string): Promise<Snapshot> {
    if (this.ctx.storage.kv.get(KEY)) throw new Error('rendezvous session already exists')
    const now = Date.now()
    const r: RendezvousRecord = {
      v: 1,
      protocol,
      data,
      token: newToken(),
      writes: 0,
      modified_at: now,
      expires_at: now + RENDEZVOUS_TTL_MS,
    }
    this.ctx.storage.kv.put(KEY, r)
    await this.ctx.storage.setAlarm(r.expires_at)
    return snapshot(r)
  }

  read(protocol: RendezvousProtocol): Snapshot | null {
    const r = this.live(protocol)
    return r ? snapshot(r) : null
  }

  /**
   * Compare-and-swap on the token. `idempotent` (MSC4388): a stale token with the very payload
   * that is current succeeds without a new write, so a client may retry a PUT whose answer it lost.
   */
  write(protocol: RendezvousProtocol, expected: string, data: string, idempotent: boolean): WriteResult {
    const r = this.live(protocol)
    if (!r) return { status: 'not_found' }
    if (expected !== r.token) {
      if (idempotent && data === r.data) return { status: 'ok', snapshot: snapshot(r) }
      return { status: 'conflict', snapshot: snapshot(r) }
    }
    const next: RendezvousRecord = { ...r, data, token: newToken(), writes: r.writes + 1, modified_at: Date.now() }
    this.ctx.storage.kv.put(KEY, next)
    return { status: 'ok', snapshot: snapshot(next) }
  }

  async remove(protocol: RendezvousProtocol): Promise<boolean> {
    if (!this.live(protocol)) return false
    await this.ctx.storage.deleteAll()
    await this.ctx.storage.deleteAlarm()
    return true
  }

  override async alarm() {
    await this.ctx.storage.deleteAll()
  }
}

function snapshot(r: RendezvousRecord): Snapshot {
  return { data: r.data, token: r.token, expires_at: r.expires_at, modified_at: r.modified_at }
}
