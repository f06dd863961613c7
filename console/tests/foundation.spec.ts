// LCM-UI-1, LCM-UI-2, LCM-PF-3: the console's foundation logic (config, i18n, formatting,
// API errors, live channel helpers and the polling fallback).
import { describe, expect, it, vi } from 'vitest'
import { ref } from 'vue'
import { parseConfig } from '@/config'
import { mergedMessages, LOCALES } from '@/i18n'
import { formatDateTime, formatNumber } from '@/format'
import { ApiError, unwrap } from '@/api/client'
import { clientId, connectUrl, type LiveChannel, type LiveStatus } from '@/live/channel'
import { consoleTopic, topicMatches, uplinkTopic } from '@/live/topics'
import { startLiveFeed } from '@/live/useLiveFeed'
import { jwtClaims } from '@/auth/cognito'

type Tree = { [k: string]: string | Tree }
function keys(t: Tree, prefix = ''): string[] {
  return Object.entries(t).flatMap(([k, v]) => (typeof v === 'string' ? [prefix + k] : keys(v, `${prefix}${k}.`)))
}

describe('runtime config', () => {
  it('LCM-UI-1: parses the injected config and refuses a broken one', () => {
    const cfg = parseConfig({
      apiUrl: 'https://x.example/',
      region: 'cn-north-1',
      cognitoEndpoint: null,
      userPoolId: 'p',
      userPoolClientId: 'c',
      local: false,
      mqttUrl: 'wss://iot.example/mqtt',
      mqttAuthorizer: 'voltops-console',
      mapTiles: null,
    })
    expect(cfg.apiUrl).toBe('https://x.example')
    expect(cfg.mqttAuthorizer).toBe('voltops-console')
    expect(cfg.mapTiles).toBeNull()
    expect(() => parseConfig({ apiUrl: '', userPoolId: 'p' })).toThrow(/region/)
    expect(() => parseConfig(null)).toThrow()
  })
})

describe('i18n', () => {
  it('LCM-UI-1: every visible string exists in both languages (no key only in one)', () => {
    const m = mergedMessages()
    const [zh, en] = LOCALES.map((l) => new Set(keys(m[l] as Tree)))
    const onlyZh = [...zh].filter((k) => !en.has(k))
    const onlyEn = [...en].filter((k) => !zh.has(k))
    expect(onlyZh).toEqual([])
    expect(onlyEn).toEqual([])
    expect(zh.size).toBeGreaterThan(50)
  })

  it('LCM-UI-1: Chinese strings are Chinese (no untranslated copy of the English)', () => {
    const m = mergedMessages()
    const en = new Map(keys(m.en as Tree).map((k) => [k, k.split('.').reduce<unknown>((t, p) => (t as Tree)[p], m.en)]))
    const same = keys(m['zh-CN'] as Tree).filter((k) => {
      const zh = k.split('.').reduce<unknown>((t, p) => (t as Tree)[p], m['zh-CN']) as string
      return zh === en.get(k) && /[a-z]{4,}/i.test(zh) && !/^(VoltOps|SOC|MQTT|ID|JSON|GB\/T|CSV|OTA|OCPP)/.test(zh)
    })
    expect(same).toEqual([])
  })
})

describe('formatting', () => {
  it('LCM-UI-1: dates in Asia/Shanghai and localised numbers', () => {
    const ms = Date.UTC(2026, 0, 1, 16, 30, 5) // 00:30:05 next day in Shanghai
    expect(formatDateTime(ms, 'zh-CN')).toContain('2026/01/02')
    expect(formatDateTime(ms, 'zh-CN')).toContain('00:30:05')
    expect(formatDateTime(ms, 'en')).toContain('00:30:05')
    expect(formatNumber(1234.5, 'en', 1)).toBe('1,234.5')
    expect(formatNumber(null, 'en')).toBe('—')
  })
})

describe('API errors', () => {
  it('LCM-UI-1: a 4xx becomes an ApiError with the server code and message', async () => {
    const response = new Response('{}', { status: 409 })
    const p = Promise.resolve({ error: { error: { code: 'alarm_not_active', message: 'already cleared' } }, response })
    await expect(unwrap(p)).rejects.toMatchObject({ status: 409, code: 'alarm_not_active', message: 'already cleared' })
    await expect(unwrap(p)).rejects.toBeInstanceOf(ApiError)
    const ok = Promise.resolve({ data: { n: 1 }, response: new Response('{}', { status: 200 }) })
    await expect(unwrap(ok)).resolves.toEqual({ n: 1 })
  })
})

describe('live channel helpers', () => {
  it('LCM-PF-7: topics are tenant-scoped and MQTT wildcards match like the broker', () => {
    expect(consoleTopic('t1', 'alarms')).toBe('voltops/console/v1/t1/alarms')
    expect(uplinkTopic('t1', '+', 'telemetry')).toBe('voltops/v1/t1/+/up/telemetry')
    expect(topicMatches('voltops/v1/t1/+/up/telemetry', 'voltops/v1/t1/p-1/up/telemetry')).toBe(true)
    expect(topicMatches('voltops/v1/t1/+/up/telemetry', 'voltops/v1/t2/p-1/up/telemetry')).toBe(false)
    expect(topicMatches('voltops/console/v1/t1/#', 'voltops/console/v1/t1/alarms')).toBe(true)
    expect(topicMatches('a/b', 'a/b/c')).toBe(false)
  })

  it('LCM-SEC-3: the client id carries the user and the custom authorizer is named in the URL', () => {
    expect(clientId('abc', () => 0.5)).toBe('console-abc-7fffffff')
    expect(connectUrl('wss://e/mqtt', 'voltops-console')).toBe('wss://e/mqtt?x-amz-customauthorizer-name=voltops-console')
    expect(connectUrl('ws://127.0.0.1:1/mqtt', null)).toBe('ws://127.0.0.1:1/mqtt')
  })

  it('LCM-PF-7: polls while the live channel is down, stops when live, catches up once on reconnect', () => {
    vi.useFakeTimers()
    const status = ref<LiveStatus>('down')
    const subs: string[] = []
    const channel = {
      status,
      subscribe: (f: string) => {
        subs.push(f)
        return () => subs.splice(subs.indexOf(f), 1)
      },
    } as unknown as LiveChannel
    const poll = vi.fn()
    const stop = startLiveFeed({ filters: ['a/#'], onMessage: () => {}, poll, intervalMs: 1000, channel })
    expect(subs).toEqual(['a/#'])
    vi.advanceTimersByTime(3100)
    expect(poll).toHaveBeenCalledTimes(3)
    status.value = 'live'
    return Promise.resolve().then(() => {
      expect(poll).toHaveBeenCalledTimes(4) // the catch-up
      vi.advanceTimersByTime(5000)
      expect(poll).toHaveBeenCalledTimes(4)
      stop()
      expect(subs).toEqual([])
      vi.useRealTimers()
    })
  })
})

describe('tokens', () => {
  it('LCM-SEC-1: claims are read from the ID token (UTF-8 safe)', () => {
    const payload = btoa(unescape(encodeURIComponent(JSON.stringify({ sub: 's', name: '张三', exp: 10 }))))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '')
    expect(jwtClaims(`h.${payload}.s`)).toMatchObject({ sub: 's', name: '张三', exp: 10 })
  })
})
