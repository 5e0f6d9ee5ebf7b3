// Percentiles (nearest rank on the sorted sample), medians of per-run figures, rounding.
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export function median(xs: readonly number[]): number {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (!s.length) return Number.NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export interface Dist {
  n: number
  mean: number
  p50: number
  p90: number
  p99: number
  max: number
}

export function dist(samples: readonly number[]): Dist {
  const s = [...samples].sort((a, b) => a - b)
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1)
  return { n: s.length, mean, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? Number.NaN }
}

export const round = (x: number, digits = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x)

/** min … max of a list, for "median (range)" cells. */
export function range(xs: readonly number[]): [number, number] {
  const s = xs.filter((x) => Number.isFinite(x))
  return [Math.min(...s), Math.max(...s)]
}
