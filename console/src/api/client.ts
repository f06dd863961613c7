/**
 * The typed API client. `schema.d.ts` is generated from docs/openapi.json (`npm run gen:api`);
 * `npm run check:api` fails when the committed types differ from the document, so the console
 * cannot drift from the API: a renamed field or route is a type error here.
 */
import createClient, { type Middleware } from 'openapi-fetch'
import type { components, paths } from './schema'

export type Schemas = components['schemas']
export type { paths }

/** An API error with the server's code and message (`{"error": {"code", "message"}}`). */
export class ApiError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly details?: unknown,
  ) {
    super(message)
  }
}

export interface TokenSource {
  /** A valid ID token (refreshed when needed) or null when signed out. */
  idToken(): Promise<string | null>
  /** Called on 401 after a refresh did not help: the session is over. */
  onUnauthorized(): void
}

let tokens: TokenSource = { idToken: async () => null, onUnauthorized: () => {} }

export function useTokens(source: TokenSource): void {
  tokens = source
}

const auth: Middleware = {
  async onRequest({ request }) {
    const token = await tokens.idToken()
    if (token) request.headers.set('Authorization', `Bearer ${token}`)
    return request
  },
  async onResponse({ response }) {
    if (response.status === 401) tokens.onUnauthorized()
    return response
  },
}

export function makeClient(baseUrl: string) {
  const c = createClient<paths>({ baseUrl })
  c.use(auth)
  return c
}

export type Client = ReturnType<typeof makeClient>
let current: Client | null = null

export function initApi(baseUrl: string): Client {
  current = makeClient(baseUrl)
  return current
}

/** The API client (after `initApi`). */
export function api(): Client {
  if (!current) throw new Error('API client not initialised')
  return current
}

/**
 * Unwrap an openapi-fetch result: the data, or an ApiError with the server's code and message.
 *   const alarms = await unwrap(api().GET('/v1/alarms', { params: { query: { status: 'active' } } }))
 */
export async function unwrap<T>(
  p: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await p
  if (response.ok) return data as T
  const body = (error ?? {}) as { error?: { code?: string; message?: string; details?: unknown } }
  throw new ApiError(
    response.status,
    body.error?.code ?? `http_${response.status}`,
    body.error?.message ?? response.statusText ?? `HTTP ${response.status}`,
    body.error?.details,
  )
}
