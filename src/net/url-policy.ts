// Which URLs the broker may fetch. In production mode (no ALLOW_INSECURE_ISSUERS) only https to
// public hosts: no loopback, private, link-local or otherwise special address literals (SSRF).
// Host names that resolve to private addresses cannot be checked from a Worker (no DNS API);
// Cloudflare's fetch does not route to private networks, which closes that gap in production.

export function refuseReason(url: URL, allowInsecure: boolean): string | undefined {
  if (url.username || url.password) return 'URLs with credentials are not allowed'
  if (url.protocol !== 'https:' && !(allowInsecure && url.protocol === 'http:')) {
    return allowInsecure ? 'only http and https URLs are allowed' : 'only https URLs are allowed'
  }
  if (allowInsecure) return undefined
  const host = url.hostname.toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback hosts are not allowed'
  if (isSpecialIpv4(host) || isSpecialIpv6(host)) return 'private, loopback and link-local addresses are not allowed'
  return undefined
}

function parseIpv4(host: string): number[] | undefined {
  // The WHATWG URL parser has already turned every IPv4 spelling (hex, octal, integer) into a dotted quad.
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  return m ? m.slice(1).map(Number) : undefined
}

function isSpecialIpv4(host: string): boolean {
  const ip = parseIpv4(host)
  if (!ip) return false
  const [a = 0, b = 0] = ip
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    a >= 224 || // this-network, private, loopback, multicast/reserved
    (a === 100 && b >= 64 && b <= 127) || // CGNAT
    (a === 169 && b === 254) || // link-local (and cloud metadata)
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) || // IETF protocol assignments
    (a === 198 && (b === 18 || b === 19)) // benchmarking
  )
}

function isSpecialIpv6(host: string): boolean {
  if (!host.startsWith('[')) return false
  const h = host.slice(1, -1)
  if (h === '::' || h === '::1') return true
  // IPv4-mapped / -compatible addresses: judge the embedded IPv4 address.
  const mapped = /^::(?:ffff:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h)
  if (mapped) {
    const hi = parseInt(mapped[1] ?? '0', 16)
    const lo = parseInt(mapped[2] ?? '0', 16)
    return isSpecialIpv4(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`)
  }
  const first = parseInt(h.split(':')[0] || '0', 16)
  return (
    (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xff00) === 0xff00 || // multicast
    h.startsWith('64:ff9b:') // NAT64 can reach IPv4 private space
  )
}
