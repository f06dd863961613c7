/**
 * The signed-in user: tokens (sessionStorage, so closing the tab signs out), identity and
 * permissions from `GET /v1/me`. `can(action)` hides what the user may not do; the API stays
 * the enforcement point.
 */
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { config } from '@/config'
import { jwtClaims, type Tokens } from '@/auth/tokens'
import { api, unwrap } from '@/api/client'

const STORAGE_KEY = 'voltops.session'
/** Refresh the ID token this long before it expires. */
const REFRESH_MARGIN_MS = 120_000

export type Permission =
  | 'read'
  | 'manage_devices'
  | 'manage_models'
  | 'handle_alarms'
  | 'send_commands'
  | 'manage_alarm_rules'
  | 'manage_notifications'

export interface Me {
  username: string
  tenant_id: string
  tenant_name: string
  groups: string[]
  role: string
  permissions: string[]
}

function loadTokens(): Tokens | null {
  try {
    const raw = globalThis.sessionStorage?.getItem(STORAGE_KEY)
    return raw ? (JSON.parse(raw) as Tokens) : null
  } catch {
    return null
  }
}

export const useSession = defineStore('session', () => {
  const tokens = ref<Tokens | null>(loadTokens())
  const me = ref<Me | null>(null)
  let refreshing: Promise<string | null> | null = null

  const claims = computed(() => (tokens.value ? jwtClaims(tokens.value.idToken) : null))
  const signedIn = computed(() => tokens.value !== null)
  const tenant = computed(() => me.value?.tenant_id ?? (claims.value?.['custom:tenant_id'] as string | undefined) ?? '')
  const subject = computed(() => (claims.value?.sub as string | undefined) ?? '')
  const username = computed(
    () => me.value?.username ?? (claims.value?.['cognito:username'] as string | undefined) ?? '',
  )

  /** What the shell shows: the e-mail when the pool has one (usernames may be opaque ids). */
  const displayName = computed(() => (claims.value?.email as string | undefined) ?? username.value)

  function setTokens(t: Tokens | null): void {
    tokens.value = t
    if (t) globalThis.sessionStorage?.setItem(STORAGE_KEY, JSON.stringify(t))
    else globalThis.sessionStorage?.removeItem(STORAGE_KEY)
  }

  /** A valid ID token, refreshed shortly before expiry; null when the session is over. */
  async function idToken(now = Date.now()): Promise<string | null> {
    const t = tokens.value
    if (!t) return null
    if (t.expiresAtMs - now > REFRESH_MARGIN_MS) return t.idToken
    if (!t.refreshToken) {
      setTokens(null)
      return null
    }
    // The Cognito SDK loads on first use (not on the initial route).
    refreshing ??= import('@/auth/cognito')
      .then(({ refresh }) => refresh(config(), t.refreshToken))
      .then((fresh) => {
        setTokens(fresh)
        return fresh.idToken
      })
      .catch(() => {
        setTokens(null)
        return null
      })
      .finally(() => {
        refreshing = null
      })
    return refreshing
  }

  async function loadMe(): Promise<Me> {
    me.value = (await unwrap(api().GET('/v1/me'))) as Me
    return me.value
  }

  function can(action: Permission): boolean {
    return me.value?.permissions.includes(action) ?? false
  }

  async function signOut(everywhere = false): Promise<void> {
    if (everywhere && tokens.value) {
      const { signOutEverywhere } = await import('@/auth/cognito')
      await signOutEverywhere(config(), tokens.value.accessToken)
    }
    setTokens(null)
    me.value = null
  }

  return { tokens, me, claims, signedIn, tenant, subject, username, displayName, setTokens, idToken, loadMe, can, signOut }
})
