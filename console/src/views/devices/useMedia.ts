/** Reactive layout helpers: phone width (cards instead of wide tables) and a ticking clock. */
import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue'

export const PHONE_QUERY = '(max-width: 768px)'

export function usePhone(): Ref<boolean> {
  const media = globalThis.matchMedia?.(PHONE_QUERY)
  const phone = ref(media?.matches ?? false)
  const on = () => {
    phone.value = media?.matches ?? false
  }
  onMounted(() => media?.addEventListener('change', on))
  onBeforeUnmount(() => media?.removeEventListener('change', on))
  return phone
}

/** `Date.now()` refreshed every `everyMs` (relative times such as "3 min ago" stay true). */
export function useNow(everyMs = 15_000): Ref<number> {
  const now = ref(Date.now())
  let timer: ReturnType<typeof setInterval> | null = null
  onMounted(() => {
    timer = setInterval(() => (now.value = Date.now()), everyMs)
  })
  onBeforeUnmount(() => {
    if (timer) clearInterval(timer)
  })
  return now
}
