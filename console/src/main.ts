import { createApp } from 'vue'
import { createPinia } from 'pinia'
import 'element-plus/theme-chalk/base.css'
import 'element-plus/theme-chalk/el-message.css'
import 'element-plus/theme-chalk/el-message-box.css'
import 'element-plus/theme-chalk/el-notification.css'
import './styles.css'
import App from './App.vue'
import { loadConfig } from './config'
import { i18n, rememberLocale } from './i18n'
import { initApi, useTokens } from './api/client'
import { router } from './router'
import { useSession } from './stores/session'

async function start(): Promise<void> {
  const cfg = await loadConfig()
  initApi(cfg.apiUrl)
  const app = createApp(App)
  const pinia = createPinia()
  app.use(pinia).use(i18n)
  const session = useSession()
  useTokens({
    idToken: () => session.idToken(),
    onUnauthorized: () => {
      void session.signOut().then(() => router.push({ name: 'login', query: { expired: '1' } }))
    },
  })
  rememberLocale(i18n.global.locale.value as 'zh-CN' | 'en')
  app.use(router)
  app.mount('#app')
}

start().catch((e: unknown) => {
  document.body.innerHTML = `<p role="alert" style="font-family:sans-serif;padding:2em">VoltOps console failed to start: ${String(
    (e as Error)?.message ?? e,
  )}</p>`
})
