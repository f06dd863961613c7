/**
 * Runtime configuration, fetched from `/config.json` at start-up: the same build runs locally
 * (the local stack writes the file) and in every AWS stage (CDK deploys the file next to the
 * build with the stack's outputs). Nothing environment-specific is baked into the bundle.
 */
export interface RuntimeConfig {
  /** Base URL of the API ('' = same origin: CloudFront / the local console server proxy /v1). */
  apiUrl: string
  region: string
  /** Cognito endpoint override (the moto server locally); null = the region's Cognito. */
  cognitoEndpoint: string | null
  userPoolId: string
  userPoolClientId: string
  /** Tenant of the deployment's seeded/local operator (display only; the token decides). */
  tenant?: string | null
  local: boolean
  /** MQTT over WebSocket URL for live updates. */
  mqttUrl: string | null
  /** IoT Core custom authorizer name (production); null locally. */
  mqttAuthorizer: string | null
  /** Map tile URL template (production); null = the offline base map shipped with the console. */
  mapTiles: string | null
}

let current: RuntimeConfig | null = null

export function parseConfig(raw: unknown): RuntimeConfig {
  if (typeof raw !== 'object' || raw === null) throw new Error('config.json is not an object')
  const r = raw as Record<string, unknown>
  const str = (k: string, required = true): string => {
    const v = r[k]
    if (typeof v === 'string') return v
    if (!required && (v === undefined || v === null)) return ''
    throw new Error(`config.json: "${k}" must be a string`)
  }
  const opt = (k: string): string | null => (typeof r[k] === 'string' && r[k] !== '' ? (r[k] as string) : null)
  return {
    apiUrl: str('apiUrl', false).replace(/\/+$/, ''),
    region: str('region'),
    cognitoEndpoint: opt('cognitoEndpoint'),
    userPoolId: str('userPoolId'),
    userPoolClientId: str('userPoolClientId'),
    tenant: opt('tenant'),
    local: r.local === true,
    mqttUrl: opt('mqttUrl'),
    mqttAuthorizer: opt('mqttAuthorizer'),
    mapTiles: opt('mapTiles'),
  }
}

export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<RuntimeConfig> {
  const res = await fetchImpl('/config.json', { cache: 'no-store' })
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`)
  current = parseConfig(await res.json())
  return current
}

export function config(): RuntimeConfig {
  if (!current) throw new Error('runtime configuration not loaded')
  return current
}
