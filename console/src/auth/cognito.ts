/**
 * Sign-in against the Cognito user pool with the AWS SDK (USER_PASSWORD_AUTH over TLS, the
 * NEW_PASSWORD_REQUIRED challenge for first sign-in, REFRESH_TOKEN_AUTH to renew). The API and
 * the live channel take the ID token (it carries `custom:tenant_id` and the groups).
 */
import {
  CognitoIdentityProviderClient,
  InitiateAuthCommand,
  RespondToAuthChallengeCommand,
  GlobalSignOutCommand,
  type AuthenticationResultType,
} from '@aws-sdk/client-cognito-identity-provider'
import type { RuntimeConfig } from '@/config'
import { AuthError, jwtClaims, type Tokens } from './tokens'

export { AuthError, jwtClaims, type Tokens }

export type SignInResult =
  | { kind: 'signed_in'; tokens: Tokens }
  | { kind: 'new_password_required'; session: string; username: string }


function client(cfg: RuntimeConfig): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({
    region: cfg.region,
    endpoint: cfg.cognitoEndpoint ?? undefined,
    // The sign-in operations are unauthenticated; no AWS credentials in the browser.
    credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
  })
}


function tokensFrom(r: AuthenticationResultType | undefined, refreshToken?: string): Tokens {
  if (!r?.IdToken || !r.AccessToken) throw new AuthError('no_tokens', 'Cognito returned no tokens')
  const exp = Number(jwtClaims(r.IdToken).exp ?? 0) * 1000
  return {
    idToken: r.IdToken,
    accessToken: r.AccessToken,
    refreshToken: r.RefreshToken ?? refreshToken ?? '',
    expiresAtMs: exp,
  }
}

function mapError(e: unknown): AuthError {
  const name = (e as { name?: string })?.name ?? 'Error'
  const message = (e as { message?: string })?.message ?? String(e)
  if (name === 'NotAuthorizedException') return new AuthError('not_authorized', message)
  if (name === 'UserNotFoundException') return new AuthError('not_authorized', message)
  if (name === 'PasswordResetRequiredException') return new AuthError('password_reset_required', message)
  if (name === 'InvalidPasswordException') return new AuthError('invalid_password', message)
  if (name === 'TooManyRequestsException') return new AuthError('throttled', message)
  return new AuthError('unavailable', message)
}

export async function signIn(cfg: RuntimeConfig, username: string, password: string): Promise<SignInResult> {
  try {
    const out = await client(cfg).send(
      new InitiateAuthCommand({
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: cfg.userPoolClientId,
        AuthParameters: { USERNAME: username, PASSWORD: password },
      }),
    )
    if (out.ChallengeName === 'NEW_PASSWORD_REQUIRED') {
      return { kind: 'new_password_required', session: out.Session ?? '', username }
    }
    if (out.ChallengeName) throw new AuthError('unsupported_challenge', `unsupported challenge ${out.ChallengeName}`)
    return { kind: 'signed_in', tokens: tokensFrom(out.AuthenticationResult) }
  } catch (e) {
    throw e instanceof AuthError ? e : mapError(e)
  }
}

export async function completeNewPassword(
  cfg: RuntimeConfig,
  username: string,
  session: string,
  newPassword: string,
): Promise<Tokens> {
  try {
    const out = await client(cfg).send(
      new RespondToAuthChallengeCommand({
        ClientId: cfg.userPoolClientId,
        ChallengeName: 'NEW_PASSWORD_REQUIRED',
        Session: session,
        ChallengeResponses: { USERNAME: username, NEW_PASSWORD: newPassword },
      }),
    )
    return tokensFrom(out.AuthenticationResult)
  } catch (e) {
    throw e instanceof AuthError ? e : mapError(e)
  }
}

export async function refresh(cfg: RuntimeConfig, refreshToken: string): Promise<Tokens> {
  try {
    const out = await client(cfg).send(
      new InitiateAuthCommand({
        AuthFlow: 'REFRESH_TOKEN_AUTH',
        ClientId: cfg.userPoolClientId,
        AuthParameters: { REFRESH_TOKEN: refreshToken },
      }),
    )
    return tokensFrom(out.AuthenticationResult, refreshToken)
  } catch (e) {
    throw e instanceof AuthError ? e : mapError(e)
  }
}

export async function signOutEverywhere(cfg: RuntimeConfig, accessToken: string): Promise<void> {
  try {
    await client(cfg).send(new GlobalSignOutCommand({ AccessToken: accessToken }))
  } catch {
    // Signing out locally still happens; the tokens expire within the hour.
  }
}
