// The whole layout of the CACHE KV namespace and of the Registrar object's storage, in one
// screen. KV keys hash their URL part: KV keys are limited to 512 bytes and URLs are not.

export const kvKeys = {
  /** Validated metadata of one issuer: `{issuer, metadata, source}`. */
  issuerMetadata: (issuerHash: string) => `discovery:issuer:${issuerHash}`,
  /** What a homeserver said about its issuer (MSC2965), with that issuer's metadata. */
  homeserverMetadata: (homeserverHash: string) => `discovery:homeserver:${homeserverHash}`,
  /** One client registration: per issuer and per hash of the canonical client metadata. */
  registration: (issuerHash: string, clientMetadataHash: string) => `registration:${issuerHash}:${clientMetadataHash}`,
} as const

export const registrarKeys = {
  registration: (clientMetadataHash: string) => `registration:${clientMetadataHash}`,
} as const
