#!/usr/bin/env node
/**
 * Builds the offline base map (console/public/geo/) from the map data in the Apache-2.0
 * `echarts@4.9.0` npm tarball. A one-off tool, run by hand when the outlines change; the
 * output is committed. See docs/map-data.md for the source, licence and datum.
 *
 *   cd /tmp && npm pack echarts@4.9.0 && tar xzf echarts-4.9.0.tgz      # -> /tmp/package
 *   npm install --prefix /tmp/geo-tools pinyin-pro@3.29.4                # English city names
 *   cd console && node scripts/build-geo.mjs /tmp/package /tmp/geo-tools
 *
 * Steps: decode ECharts' "UTF8Encoding" (zig-zag delta-coded characters, 1/1024°) into plain
 * GeoJSON; simplify with Douglas–Peucker on shared arcs (a border two regions share is
 * simplified once, so neighbours keep meeting without slivers); round to 1e-3° (about 100 m,
 * the source's own resolution); drop rings that collapse (islands smaller than the tolerance)
 * but never a region's largest ring; add English names and each region's bounding box.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'

const [, , pkgDir, toolsDir] = process.argv
if (!pkgDir) {
  console.error('usage: node scripts/build-geo.mjs <extracted echarts-4.9.0 package> [<dir with node_modules/pinyin-pro>]')
  process.exit(2)
}
const SOURCE_VERSION = '4.9.0'
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))
if (pkg.name !== 'echarts' || pkg.version !== SOURCE_VERSION) {
  throw new Error(`expected echarts@${SOURCE_VERSION}, found ${pkg.name}@${pkg.version}`)
}

const OUT = new URL('../public/geo/', import.meta.url).pathname
/** Douglas–Peucker tolerance, degrees: country outlines are seen whole, cities zoomed in. */
const TOLERANCE = { china: 0.012, province: 0.0025 }
const DIGITS = 3

// ---- English names ------------------------------------------------------------------------
/** Provinces by adcode: official English names (Pinyin without tones). */
const PROVINCE_EN = {
  110000: 'Beijing', 120000: 'Tianjin', 130000: 'Hebei', 140000: 'Shanxi', 150000: 'Inner Mongolia',
  210000: 'Liaoning', 220000: 'Jilin', 230000: 'Heilongjiang', 310000: 'Shanghai', 320000: 'Jiangsu',
  330000: 'Zhejiang', 340000: 'Anhui', 350000: 'Fujian', 360000: 'Jiangxi', 370000: 'Shandong',
  410000: 'Henan', 420000: 'Hubei', 430000: 'Hunan', 440000: 'Guangdong', 450000: 'Guangxi',
  460000: 'Hainan', 500000: 'Chongqing', 510000: 'Sichuan', 520000: 'Guizhou', 530000: 'Yunnan',
  540000: 'Tibet', 610000: 'Shaanxi', 620000: 'Gansu', 630000: 'Qinghai', 640000: 'Ningxia',
  650000: 'Xinjiang', 710000: 'Taiwan', 810000: 'Hong Kong', 820000: 'Macao',
}
/** Suffixes of city-level names and their English forms (longest first). */
const SUFFIXES = [
  ['特别行政区', ''],
  ['自治州', ' Autonomous Prefecture'],
  ['自治县', ' Autonomous County'],
  ['林区', ' Forestry District'],
  ['地区', ' Prefecture'],
  ['新区', ' New Area'],
  ['市', ''],
  ['盟', ' League'],
  ['县', ' County'],
  ['区', ' District'],
]
/** Hong Kong's and Macao's districts and places whose English name is not their Pinyin. */
const SPECIAL_EN = {
  中西区: 'Central and Western', 湾仔区: 'Wan Chai', 东区: 'Eastern', 南区: 'Southern', 油尖旺区: 'Yau Tsim Mong',
  深水埗区: 'Sham Shui Po', 九龙城区: 'Kowloon City', 黄大仙区: 'Wong Tai Sin', 观塘区: 'Kwun Tong',
  荃湾区: 'Tsuen Wan', 屯门区: 'Tuen Mun', 元朗区: 'Yuen Long', 北区: 'North', 大埔区: 'Tai Po',
  西贡区: 'Sai Kung', 沙田区: 'Sha Tin', 葵青区: 'Kwai Tsing', 离岛区: 'Islands',
  花地玛堂区: 'Nossa Senhora de Fátima', 花王堂区: 'Santo António', 大堂区: 'Sé', 望德堂区: 'São Lázaro',
  风顺堂区: 'São Lourenço', 嘉模堂区: 'Nossa Senhora do Carmo', 圣方济各堂区: 'São Francisco Xavier', 路凼填海区: 'Cotai',
  澳门特别行政区: 'Macao', 澳门: 'Macao', 香港: 'Hong Kong', 陕西: 'Shaanxi', 南海诸岛: 'South China Sea Islands',
}
/** Place stems (before the suffix and any ethnic names) with established English forms. */
const STEM_EN = {
  乌鲁木齐: 'Ürümqi', 克拉玛依: 'Karamay', 吐鲁番: 'Turpan', 哈密: 'Hami', 昌吉: 'Changji', 博尔塔拉: 'Bortala',
  巴音郭楞: 'Bayingolin', 阿克苏: 'Aksu', 克孜勒苏: 'Kizilsu', 喀什: 'Kashgar', 和田: 'Hotan', 伊犁: 'Ili',
  塔城: 'Tacheng', 阿勒泰: 'Altay', 拉萨: 'Lhasa', 日喀则: 'Shigatse', 昌都: 'Qamdo', 林芝: 'Nyingchi',
  那曲: 'Nagqu', 阿里: 'Ngari', 山南: 'Shannan', 呼和浩特: 'Hohhot', 鄂尔多斯: 'Ordos', 呼伦贝尔: 'Hulunbuir',
  锡林郭勒: 'Xilingol', 阿拉善: 'Alxa', 兴安: 'Hinggan', 巴彦淖尔: 'Bayannur', 乌兰察布: 'Ulanqab',
  西双版纳: 'Xishuangbanna', 德宏: 'Dehong', 迪庆: 'Dêqên', 甘孜: 'Garzê', 阿坝: 'Ngawa', 果洛: 'Golog',
  玉树: 'Yushu', 海西: 'Haixi', 甘南: 'Gannan', 临夏: 'Linxia', 延边: 'Yanbian', 厦门: 'Xiamen',
  闵行: 'Minhang', 哈尔滨: 'Harbin', 齐齐哈尔: 'Qiqihar', 大兴安岭: 'Da Hinggan Ling', 六安: "Lu'an",
  中国属钓鱼岛: 'Diaoyu Islands', 阿拉尔: 'Aral', 图木舒克: 'Tumxuk', 可克达拉: 'Kokdala',
}
/** Ethnic groups named in autonomous prefectures. */
const ETHNIC_EN = {
  回族: 'Hui', 蒙古族: 'Mongol', 蒙古: 'Mongol', 藏族: 'Tibetan', 彝族: 'Yi', 苗族: 'Miao', 侗族: 'Dong',
  布依族: 'Buyei', 土家族: 'Tujia', 朝鲜族: 'Korean', 哈萨克: 'Kazakh', 柯尔克孜: 'Kirgiz', 傣族: 'Dai',
  景颇族: 'Jingpo', 白族: 'Bai', 傈僳族: 'Lisu', 壮族: 'Zhuang', 哈尼族: 'Hani', 羌族: 'Qiang', 黎族: 'Li',
}
let pinyin = null
if (toolsDir) {
  const req = createRequire(join(toolsDir, 'node_modules', 'noop.js'))
  pinyin = req('pinyin-pro').pinyin
}
function englishName(zh) {
  if (SPECIAL_EN[zh]) return SPECIAL_EN[zh]
  if (STEM_EN[zh]) return STEM_EN[zh]
  let stem = zh
  let suffix = ''
  for (const [s, en] of SUFFIXES) {
    if (stem.length > s.length + 1 && stem.endsWith(s)) {
      stem = stem.slice(0, -s.length)
      suffix = en
      break
    }
  }
  // Trailing ethnic names ("楚雄彝族", "黔东南苗族侗族") become "Chuxiong Yi", "Qiandongnan Miao and Dong".
  const groups = []
  for (let found = true; found; ) {
    found = false
    for (const [g, en] of Object.entries(ETHNIC_EN)) {
      if (stem.length > g.length && stem.endsWith(g)) {
        groups.unshift(en)
        stem = stem.slice(0, -g.length)
        found = true
        break
      }
    }
  }
  let place = STEM_EN[stem]
  if (!place) {
    if (!pinyin) return zh
    // Pinyin with the apostrophe before a syllable starting with a vowel (Xi'an, Huai'an).
    const syllables = pinyin(stem, { toneType: 'none', type: 'array' })
    const word = syllables.map((s, i) => (i > 0 && /^[aoe]/.test(s) ? `'${s}` : s)).join('')
    place = word.charAt(0).toUpperCase() + word.slice(1)
  }
  const ethnic = groups.length ? ` ${groups.length > 1 ? `${groups.slice(0, -1).join(', ')} and ${groups.at(-1)}` : groups[0]}` : ''
  return place + ethnic + suffix
}

// ---- decoding -----------------------------------------------------------------------------
function decodeRing(encoded, [prevX0, prevY0], scale) {
  const out = []
  let prevX = prevX0
  let prevY = prevY0
  for (let i = 0; i < encoded.length; i += 2) {
    let x = encoded.charCodeAt(i) - 64
    let y = encoded.charCodeAt(i + 1) - 64
    x = (x >> 1) ^ -(x & 1) // zig-zag
    y = (y >> 1) ^ -(y & 1)
    x += prevX
    y += prevY
    prevX = x
    prevY = y
    out.push([x, y]) // integer units of 1/scale degree: exact keys for shared vertices
  }
  return out
}

/** Features as { properties, polygons: [[ring (integer coords)]] } plus the scale. */
function decode(json) {
  if (!json.UTF8Encoding) return plain(json)
  const scale = json.UTF8Scale ?? 1024
  const features = json.features.map((f) => {
    const g = f.geometry
    const polygons =
      g.type === 'Polygon'
        ? [g.coordinates.map((r, i) => decodeRing(r, g.encodeOffsets[i], scale))]
        : g.coordinates.map((p, i) => p.map((r, j) => decodeRing(r, g.encodeOffsets[i][j], scale)))
    // Taiwan's file (Natural Earth admin-1 attributes) has no adcode: use its ISO 3166-2 code.
    return { id: f.id ?? f.properties.id ?? f.properties.iso_3166_2, properties: f.properties, polygons }
  })
  return { scale, features }
}

/** A plain GeoJSON source (Taiwan's file): coordinates to integer micro-degrees. */
function plain(json) {
  const scale = 1e6
  const ring = (r) => r.map(([x, y]) => [Math.round(x * scale), Math.round(y * scale)])
  const features = json.features.map((f) => {
    const g = f.geometry
    const polygons = g.type === 'Polygon' ? [g.coordinates.map(ring)] : g.coordinates.map((p) => p.map(ring))
    return { id: f.id ?? f.properties.id ?? f.properties.iso_3166_2, properties: f.properties, polygons }
  })
  return { scale, features }
}

// ---- topology-aware simplification ----------------------------------------------------------
const key = ([x, y]) => `${x},${y}`

function perpDistSq([px, py], [ax, ay], [bx, by]) {
  const dx = bx - ax
  const dy = by - ay
  const len = dx * dx + dy * dy
  if (len === 0) return (px - ax) ** 2 + (py - ay) ** 2
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len))
  return (px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2
}

/** Douglas–Peucker on an open polyline; endpoints kept. */
function douglasPeucker(points, tol) {
  if (points.length <= 2) return points.slice()
  const keep = new Uint8Array(points.length)
  keep[0] = keep[points.length - 1] = 1
  const stack = [[0, points.length - 1]]
  const tolSq = tol * tol
  while (stack.length) {
    const [a, b] = stack.pop()
    let worst = -1
    let worstD = tolSq
    for (let i = a + 1; i < b; i++) {
      const d = perpDistSq(points[i], points[a], points[b])
      if (d > worstD) {
        worstD = d
        worst = i
      }
    }
    if (worst >= 0) {
      keep[worst] = 1
      stack.push([a, worst], [worst, b])
    }
  }
  return points.filter((_, i) => keep[i])
}

function simplifyAll(features, tolUnits) {
  // Which rings use each vertex; a vertex is a node where that set changes along a ring.
  const users = new Map()
  const rings = []
  for (const f of features) for (const p of f.polygons) for (const r of p) rings.push(r)
  rings.forEach((r, id) => {
    for (const pt of r) {
      const k = key(pt)
      let s = users.get(k)
      if (!s) users.set(k, (s = new Set()))
      s.add(id)
    }
  })
  const sig = (pt) => [...users.get(key(pt))].sort((a, b) => a - b).join('|')
  const cache = new Map()
  function simplifyArc(arc) {
    const a = key(arc[0])
    const b = key(arc[arc.length - 1])
    const forward = a < b || (a === b && key(arc[1] ?? arc[0]) <= key(arc[arc.length - 2] ?? arc[0]))
    const canon = forward ? arc : arc.slice().reverse()
    const k = canon.map(key).join(';')
    let s = cache.get(k)
    if (!s) cache.set(k, (s = douglasPeucker(canon, tolUnits)))
    return forward ? s : s.slice().reverse()
  }
  function simplifyRing(ring) {
    // Closed ring: drop the repeated last point, find nodes, rotate to start at one.
    const pts = key(ring[0]) === key(ring[ring.length - 1]) ? ring.slice(0, -1) : ring.slice()
    const n = pts.length
    if (n < 4) return ring
    const sigs = pts.map(sig)
    const nodes = []
    for (let i = 0; i < n; i++) {
      const prev = sigs[(i - 1 + n) % n]
      const next = sigs[(i + 1) % n]
      if (sigs[i] !== prev || sigs[i] !== next || users.get(key(pts[i])).size > 2) nodes.push(i)
    }
    let out
    if (nodes.length === 0) {
      // An island or a ring nobody shares: split at the lowest vertex so the result is stable.
      let start = 0
      for (let i = 1; i < n; i++) if (key(pts[i]) < key(pts[start])) start = i
      const rot = pts.slice(start).concat(pts.slice(0, start))
      const far = Math.floor(n / 2)
      const a1 = douglasPeucker(rot.slice(0, far + 1), tolUnits)
      const a2 = douglasPeucker(rot.slice(far).concat([rot[0]]), tolUnits)
      out = a1.concat(a2.slice(1))
    } else {
      out = []
      for (let j = 0; j < nodes.length; j++) {
        const from = nodes[j]
        const to = nodes[(j + 1) % nodes.length]
        const arc = []
        for (let i = from; ; i = (i + 1) % n) {
          arc.push(pts[i])
          if (i === to && arc.length > 1) break
          if (nodes.length === 1 && arc.length > n) break
        }
        const s = simplifyArc(arc)
        out.push(...(out.length ? s.slice(1) : s))
      }
      if (key(out[0]) !== key(out[out.length - 1])) out.push(out[0])
    }
    return out
  }
  return features.map((f) => ({ ...f, polygons: f.polygons.map((p) => p.map(simplifyRing)) }))
}

// ---- output ---------------------------------------------------------------------------------
function round(v) {
  const m = 10 ** DIGITS
  return Math.round(v * m) / m
}

function ringToDegrees(ring, scale) {
  const out = []
  for (const [x, y] of ring) {
    const p = [round(x / scale), round(y / scale)]
    const last = out[out.length - 1]
    if (!last || last[0] !== p[0] || last[1] !== p[1]) out.push(p)
  }
  return out
}

const ringArea = (r) => {
  let a = 0
  for (let i = 0, j = r.length - 1; i < r.length; j = i++) a += (r[j][0] - r[i][0]) * (r[j][1] + r[i][1])
  return Math.abs(a / 2)
}

function toGeoJson(decoded, features, sourcePath, nameFor) {
  const out = []
  for (const f of features) {
    if (f.original.flat().length === 0) {
      console.warn(`${sourcePath}: ${f.properties.name} has no geometry in the source; skipped`)
      continue
    }
    const polys = f.polygons
      .map((p) => p.map((r) => ringToDegrees(r, decoded.scale)))
      .map((p) => p.filter((r) => r.length >= 4))
      .filter((p) => p.length > 0)
    if (polys.length === 0) {
      // Everything collapsed: keep the largest original ring, unsimplified.
      const largest = f.original.flat().reduce((a, b) => (ringArea(b) > ringArea(a) ? b : a))
      polys.push([ringToDegrees(largest, decoded.scale)])
    }
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity]
    for (const p of polys)
      for (const [x, y] of p[0]) {
        x0 = Math.min(x0, x)
        y0 = Math.min(y0, y)
        x1 = Math.max(x1, x)
        y1 = Math.max(y1, y)
      }
    const props = f.properties
    out.push({
      type: 'Feature',
      id: String(f.id),
      properties: {
        adcode: String(f.id),
        name: props.name,
        name_en: nameFor(props.name, f.id, props),
        cp: props.cp,
        bbox: [x0, y0, x1, y1],
      },
      geometry: polys.length === 1 ? { type: 'Polygon', coordinates: polys[0] } : { type: 'MultiPolygon', coordinates: polys },
    })
  }
  return {
    type: 'FeatureCollection',
    source: `echarts@${SOURCE_VERSION} (npm, Apache-2.0) ${sourcePath}; decoded, simplified and rounded by console/scripts/build-geo.mjs`,
    datum: 'GCJ-02',
    features: out,
  }
}

function build(sourcePath, tolerance, nameFor) {
  const decoded = decode(JSON.parse(readFileSync(join(pkgDir, sourcePath), 'utf8')))
  const simplified = simplifyAll(decoded.features, tolerance * decoded.scale).map((f, i) => ({
    ...f,
    original: decoded.features[i].polygons,
  }))
  return toGeoJson(decoded, simplified, sourcePath, nameFor)
}

mkdirSync(join(OUT, 'province'), { recursive: true })
const china = build('map/json/china.json', TOLERANCE.china, (zh, id) => PROVINCE_EN[id] ?? englishName(zh))
writeFileSync(join(OUT, 'china.json'), JSON.stringify(china))
const sizes = [['china.json', JSON.stringify(china).length]]

// Province files are named by pinyin in the source (shanxi = 山西, shanxi1 = 陕西).
const PROVINCE_FILES = {
  anhui: 340000, aomen: 820000, beijing: 110000, chongqing: 500000, fujian: 350000, gansu: 620000,
  guangdong: 440000, guangxi: 450000, guizhou: 520000, hainan: 460000, hebei: 130000, heilongjiang: 230000,
  henan: 410000, hubei: 420000, hunan: 430000, jiangsu: 320000, jiangxi: 360000, jilin: 220000,
  liaoning: 210000, neimenggu: 150000, ningxia: 640000, qinghai: 630000, shandong: 370000, shanghai: 310000,
  shanxi: 140000, shanxi1: 610000, sichuan: 510000, taiwan: 710000, tianjin: 120000, xianggang: 810000,
  xinjiang: 650000, xizang: 540000, yunnan: 530000, zhejiang: 330000,
}
for (const file of readdirSync(join(pkgDir, 'map/json/province')).sort()) {
  const adcode = PROVINCE_FILES[file.replace(/\.json$/, '')]
  if (!adcode) throw new Error(`no province for ${file}`)
  const geo = build(`map/json/province/${file}`, TOLERANCE.province, (zh, _id, props) => props.name_en ?? englishName(zh))
  const text = JSON.stringify(geo)
  writeFileSync(join(OUT, 'province', `${adcode}.json`), text)
  sizes.push([`province/${adcode}.json (${file})`, text.length])
}
for (const [f, n] of sizes) console.log(`${f.padEnd(40)} ${(n / 1024).toFixed(1)} KB`)
console.log(`total ${(sizes.reduce((a, [, n]) => a + n, 0) / 1024).toFixed(1)} KB`)
