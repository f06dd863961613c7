/** Routes: every page is a lazy chunk; everything but sign-in needs a session. */
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useSession } from '@/stores/session'

export const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('@/views/auth/SignInPage.vue'), meta: { public: true } },
  {
    path: '/',
    component: () => import('@/layout/AppShell.vue'),
    children: [
      { path: '', name: 'overview', component: () => import('@/views/overview/OverviewPage.vue'), meta: { nav: 'overview' } },
      { path: 'devices', name: 'devices', component: () => import('@/views/devices/DeviceListPage.vue'), meta: { nav: 'devices' } },
      {
        path: 'devices/:thing',
        name: 'device',
        component: () => import('@/views/devices/DeviceDetailPage.vue'),
        props: true,
        meta: { nav: 'devices' },
      },
      { path: 'alarms', name: 'alarms', component: () => import('@/views/alarms/AlarmCentrePage.vue'), meta: { nav: 'alarms' } },
      {
        path: 'alarm-rules',
        name: 'alarm-rules',
        component: () => import('@/views/alarm-rules/AlarmRulesPage.vue'),
        meta: { nav: 'alarmRules' },
      },
      { path: 'map', name: 'map', component: () => import('@/views/map/MapPage.vue'), meta: { nav: 'map' } },
      { path: 'inbox', name: 'inbox', component: () => import('@/views/inbox/InboxPage.vue'), meta: { nav: 'inbox' } },
    ],
  },
  { path: '/:pathMatch(.*)*', redirect: '/' },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach((to) => {
  if (to.meta.public) return true
  const session = useSession()
  if (!session.signedIn) return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  return true
})
