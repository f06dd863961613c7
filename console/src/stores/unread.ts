/** The notification badge: unread count from the API, bumped by in-app pushes. */
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api, unwrap } from '@/api/client'

export const useUnread = defineStore('unread', () => {
  const count = ref(0)
  const capped = ref(false)

  async function reload(): Promise<void> {
    const r = await unwrap(api().GET('/v1/notifications/unread-count'))
    count.value = r.count
    capped.value = r.capped
  }

  return { count, capped, reload }
})
