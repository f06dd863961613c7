/** The slice of vue-i18n the pure chart/option builders need (pass `(k, n) => t(k, n ?? {})`). */
export type Translate = (key: string, named?: Record<string, unknown>) => string
