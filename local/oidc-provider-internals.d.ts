// oidc-provider's per-instance internals (no public API for dynamic scopes).
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  export default function instance(provider: object): { configuration: { scopes: Set<string> } }
}
