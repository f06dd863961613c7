/**
 * vue-i18n set-up. Messages live per module in `src/locales/<module>.ts`, each exporting
 * `{ 'zh-CN': {...}, en: {...} }` under the module's own key (so pages never edit a shared
 * file); they are merged here. zh-CN is the default; dates are shown in Asia/Shanghai unless
 * the user picks another zone.
 */
import { createI18n } from 'vue-i18n'

export const LOCALES = ['zh-CN', 'en'] as const
export type Locale = (typeof LOCALES)[number]
export const DEFAULT_LOCALE: Locale = 'zh-CN'
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai'
const STORAGE_KEY = 'voltops.locale'

type Tree = { [k: string]: string | Tree }
type ModuleMessages = Record<Locale, Tree>

const modules = import.meta.glob<{ default: ModuleMessages }>('../locales/*.ts', { eager: true })

export function mergedMessages(): Record<Locale, Tree> {
  const out: Record<Locale, Tree> = { 'zh-CN': {}, en: {} }
  for (const [path, mod] of Object.entries(modules)) {
    const name = path.replace(/^.*\/(.+)\.ts$/, '$1')
    for (const locale of LOCALES) {
      const msgs = mod.default[locale]
      if (!msgs) throw new Error(`locale module ${name} has no ${locale} messages`)
      Object.assign(out[locale], msgs)
    }
  }
  return out
}

export function initialLocale(): Locale {
  const saved = globalThis.localStorage?.getItem(STORAGE_KEY)
  if (saved && (LOCALES as readonly string[]).includes(saved)) return saved as Locale
  const nav = globalThis.navigator?.language ?? ''
  return nav.toLowerCase().startsWith('en') ? 'en' : DEFAULT_LOCALE
}

export function rememberLocale(locale: Locale): void {
  globalThis.localStorage?.setItem(STORAGE_KEY, locale)
  document.documentElement.lang = locale
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'en',
  messages: mergedMessages(),
  missingWarn: false,
  fallbackWarn: false,
})
