// Fails when src/api/schema.d.ts differs from what docs/openapi.json generates: the console's
// types must match the API document the server is tested against (tests/unit/devices/test_api_openapi.py).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import openapiTS, { astToString } from 'openapi-typescript'

const doc = new URL('../../docs/openapi.json', import.meta.url)
const committed = readFileSync(new URL('../src/api/schema.d.ts', import.meta.url), 'utf8')
const generated = astToString(await openapiTS(doc))
const normalise = (s) => s.replace(/\r\n/g, '\n').split('\n').filter((l) => { const t = l.trim(); return t !== '' && !t.startsWith('*') && !t.startsWith('/**') }).join('\n')
if (normalise(committed) !== normalise(generated)) {
  console.error(
    `src/api/schema.d.ts is out of date with ${fileURLToPath(doc)}.\n` +
      'Run `npm --prefix console run gen:api` and fix the type errors it reveals.',
  )
  process.exit(1)
}
console.log('API types match docs/openapi.json')
