// Reading a body with a size cap, for the egress guard (provider answers) and the rendezvous
// (request bodies): no Content-Length is trusted, the stream is cancelled as soon as it is over.

/** `until` races every read (e.g. against a deadline); what it rejects with is rethrown. */
export async function readAtMost(
  body: ReadableStream<Uint8Array>,
  max: number,
  until: <T>(read: Promise<T>) => Promise<T> = (read) => read,
): Promise<Uint8Array | 'too_large'> {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const read = reader.read()
      read.catch(() => {}) // if `until` wins the race, this read fails later: not an unhandled rejection
      const { done, value } = await until(read)
      if (done) break
      size += value.byteLength
      if (size > max) {
        await reader.cancel().catch(() => {})
        return 'too_large'
      }
      chunks.push(value)
    }
  } catch (e) {
    await reader.cancel().catch(() => {})
    throw e
  }
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  return out
}
