/**
 * Token shapes and claim reading, without the Cognito SDK: the signed-in routes need these on
 * first render; the SDK itself (./cognito) loads only for sign-in, refresh and sign-out.
 */

export interface Tokens {
  idToken: string
  accessToken: string
  refreshToken: string
  /** Expiry of the ID token, epoch ms. */
  expiresAtMs: number
}

export class AuthError extends Error {
  constructor(
    public readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** The claims of a JWT (not verified: the API and the authorizer verify; this is for display). */
export function jwtClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1]
  if (!part) throw new AuthError('invalid_token', 'malformed token')
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/')
  const json = decodeURIComponent(
    Array.from(atob(b64.padEnd(b64.length + ((4 - (b64.length % 4)) % 4), '=')))
      .map((c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'))
      .join(''),
  )
  return JSON.parse(json) as Record<string, unknown>
}
