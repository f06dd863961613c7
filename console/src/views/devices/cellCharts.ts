/**
 * Chart options of a pack's cells (LCM-MON-1, LCM-MON-3): one bar per cell voltage and a
 * heatmap of every temperature probe. Both stay smooth with 400 cells: canvas, no animation
 * (live samples replace the data every few seconds), large/progressive bar mode, and a
 * series layout that never changes with the data, so a live update is a cheap setOption merge.
 *
 * A dropout (null reading) is never drawn as zero: the cell gets a full-height hatched grey bar
 * (or a hatched heatmap square) and its own tooltip line. Cell and probe numbers are 1-based,
 * as operators and GB/T 32960 count them.
 */
import type { EChartsOption } from '@/charts/echarts'
import { formatNumber } from '@/format'
import type { Translate } from './translate'

export type Reading = number | null

export interface Extreme {
  /** 0-based position in the array. */
  index: number
  value: number
}

export interface CellStats {
  count: number
  valid: number
  /** 0-based positions of the dropouts. */
  missing: number[]
  max: Extreme | null
  min: Extreme | null
  mean: number | null
}

export function cellStats(values: readonly Reading[]): CellStats {
  let max: Extreme | null = null
  let min: Extreme | null = null
  let sum = 0
  let valid = 0
  const missing: number[] = []
  values.forEach((v, index) => {
    if (v === null || v === undefined || Number.isNaN(v)) {
      missing.push(index)
      return
    }
    valid++
    sum += v
    if (!max || v > max.value) max = { index, value: v }
    if (!min || v < min.value) min = { index, value: v }
  })
  return { count: values.length, valid, missing, max, min, mean: valid ? sum / valid : null }
}

/** Y range of the voltage chart: the cells' spread with a margin (a 10 mV spread must be visible). */
export function voltageAxisRange(stats: CellStats): [number, number] {
  if (!stats.max || !stats.min) return [0, 5]
  const spread = stats.max.value - stats.min.value
  const pad = Math.max(spread * 0.2, 0.01)
  const lo = Math.max(0, Math.floor((stats.min.value - pad) * 1000) / 1000)
  const hi = Math.ceil((stats.max.value + pad) * 1000) / 1000
  return [lo, hi]
}

export const CELL_COLOURS = {
  cell: '#409eff',
  max: '#f56c6c',
  min: '#e6a23c',
  dropout: 'rgba(144, 147, 153, 0.45)',
  mean: '#303133',
} as const

const EMPTY = '-' // ECharts' "no value" (drawn as nothing; null would be too, but '-' is explicit)

const HATCH = {
  symbol: 'rect',
  dashArrayX: [1, 0],
  dashArrayY: [3, 5],
  rotation: -Math.PI / 4,
  color: 'rgba(96, 98, 102, 0.6)',
}

interface AxisParam {
  dataIndex: number
}

/** The tooltip of one cell (shared by the axis tooltip and the tests). */
export function cellTooltip(index: number, values: readonly Reading[], stats: CellStats, t: Translate, locale: string): string {
  const v = values[index]
  const no = index + 1
  if (v === null || v === undefined) return `${t('devices.cells.cellNo', { no })}<br/>${t('devices.cells.noReading')}`
  const lines = [`${t('devices.cells.cellNo', { no })}`, `${formatNumber(v, locale, 3)} V`]
  if (stats.mean !== null) {
    const dmv = (v - stats.mean) * 1000
    lines.push(t('devices.cells.fromMean', { mv: `${dmv >= 0 ? '+' : ''}${formatNumber(dmv, locale, 1)}` }))
  }
  if (stats.max?.index === index) lines.push(t('devices.cells.highest'))
  if (stats.min?.index === index) lines.push(t('devices.cells.lowest'))
  return lines.join('<br/>')
}

/** Bar chart of every cell voltage: cells, highest, lowest, dropouts (always 4 series), mean line. */
export function cellVoltageOption(values: readonly Reading[], t: Translate, locale: string): EChartsOption {
  const stats = cellStats(values)
  const n = values.length
  const [lo, hi] = voltageAxisRange(stats)
  const at = (i: number | undefined) => (i === undefined ? -1 : i)
  const maxI = at(stats.max?.index)
  const minI = at(stats.min?.index)
  const cells = values.map((v) => (v === null || v === undefined ? EMPTY : v))
  const highest = values.map((v, i) => (i === maxI && v !== null ? v : EMPTY))
  const lowest = values.map((v, i) => (i === minI && i !== maxI && v !== null ? v : EMPTY))
  const dropouts = values.map((v) => (v === null || v === undefined ? hi : EMPTY))
  const dense = n > 100
  const bar = {
    type: 'bar' as const,
    barGap: '-100%',
    barCategoryGap: dense ? '8%' : '30%',
    large: true,
    largeThreshold: 200,
    progressive: 0,
    animation: false,
  }
  const names = {
    cells: t('devices.cells.voltage'),
    max: t('devices.cells.highest'),
    min: t('devices.cells.lowest'),
    dropout: t('devices.cells.dropout'),
  }
  return {
    animation: false,
    grid: { left: 52, right: 16, top: 40, bottom: n > 40 ? 56 : 36, containLabel: false },
    legend: { top: 0, data: [names.cells, names.max, names.min, names.dropout], selectedMode: false },
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      confine: true,
      formatter: (params: unknown) => {
        const p = (Array.isArray(params) ? params[0] : params) as AxisParam | undefined
        return p ? cellTooltip(p.dataIndex, values, stats, t, locale) : ''
      },
    },
    xAxis: {
      type: 'category',
      data: Array.from({ length: n }, (_, i) => String(i + 1)),
      name: t('devices.cells.cellAxis'),
      nameLocation: 'middle',
      nameGap: 26,
      axisTick: { show: !dense },
    },
    yAxis: {
      type: 'value',
      min: lo,
      max: hi,
      name: 'V',
      scale: true,
      // min/max are not round numbers: their labels would crowd the nice ticks next to them.
      axisLabel: { formatter: (v: number) => formatNumber(v, locale, 3), showMinLabel: false, showMaxLabel: false },
    },
    dataZoom: [{ type: 'inside', xAxisIndex: 0, disabled: n <= 60, zoomLock: false }],
    series: [
      {
        ...bar,
        id: 'cells',
        name: names.cells,
        data: cells,
        itemStyle: { color: CELL_COLOURS.cell },
        markLine: {
          silent: true,
          symbol: 'none',
          animation: false,
          lineStyle: { color: CELL_COLOURS.mean, type: 'dashed' },
          label: { position: 'insideEndTop', formatter: () => t('devices.cells.mean', { v: formatNumber(stats.mean, locale, 3) }) },
          data: stats.mean === null ? [] : [{ yAxis: Math.round(stats.mean * 10000) / 10000 }],
        },
      },
      { ...bar, id: 'max', name: names.max, data: highest, itemStyle: { color: CELL_COLOURS.max } },
      { ...bar, id: 'min', name: names.min, data: lowest, itemStyle: { color: CELL_COLOURS.min } },
      {
        ...bar,
        id: 'dropouts',
        name: names.dropout,
        data: dropouts,
        itemStyle: { color: CELL_COLOURS.dropout, decal: HATCH },
      },
    ],
  }
}

export interface HeatmapDims {
  cols: number
  rows: number
}

/** Grid of the probe heatmap: ≤ 10 in one row, ≤ maxCols in two rows, else maxCols wide. */
export function heatmapDims(n: number, maxCols = 20): HeatmapDims {
  if (n <= 0) return { cols: 0, rows: 0 }
  const cols = n <= Math.min(10, maxCols) ? n : n <= maxCols ? Math.ceil(n / 2) : maxCols
  return { cols, rows: Math.ceil(n / cols) }
}

/** Chart height for a heatmap grid, px. */
export function heatmapHeight(rows: number): number {
  return Math.min(640, Math.max(140, rows * 24 + 96))
}

/** The colour scale: absolute °C, so a hot spot is red in every pack, not relative to its neighbours. */
export function temperatureScale(values: readonly Reading[], maxOperatingC: number | null = null): [number, number] {
  const valid = values.filter((v): v is number => v !== null && v !== undefined && !Number.isNaN(v))
  const lo = Math.floor(Math.min(10, ...valid))
  const hi = Math.ceil(Math.max(maxOperatingC ?? 60, ...valid))
  return [lo, hi]
}

export interface HeatmapOptions {
  maxCols?: number
  maxOperatingC?: number | null
}

/** Heatmap of every probe temperature (2 series: readings, dropouts), laid out row by row. */
export function heatmapOption(values: readonly Reading[], t: Translate, locale: string, opts: HeatmapOptions = {}): EChartsOption {
  const { cols, rows } = heatmapDims(values.length, opts.maxCols ?? 20)
  const [lo, hi] = temperatureScale(values, opts.maxOperatingC ?? null)
  const readings: [number, number, number][] = []
  const dropouts: [number, number, number][] = []
  values.forEach((v, i) => {
    const cell: [number, number] = [i % Math.max(cols, 1), Math.floor(i / Math.max(cols, 1))]
    if (v === null || v === undefined || Number.isNaN(v)) dropouts.push([cell[0], cell[1], 0])
    else readings.push([cell[0], cell[1], v])
  })
  const showLabels = values.length <= 60
  const tooltip = (data: [number, number, number], dropout: boolean): string => {
    const no = data[1] * cols + data[0] + 1
    const head = t('devices.cells.probeNo', { no })
    return dropout ? `${head}<br/>${t('devices.cells.noReading')}` : `${head}<br/>${formatNumber(data[2], locale, 1)} °C`
  }
  return {
    animation: false,
    grid: { left: 36, right: 12, top: 8, bottom: 56 },
    tooltip: {
      trigger: 'item',
      confine: true,
      formatter: (p: unknown) => {
        const item = p as { seriesIndex: number; data: [number, number, number] }
        return tooltip(item.data, item.seriesIndex === 1)
      },
    },
    xAxis: {
      type: 'category',
      data: Array.from({ length: cols }, (_, i) => String(i + 1)),
      splitArea: { show: false },
      axisTick: { show: false },
      axisLabel: { show: cols <= 20 },
    },
    yAxis: {
      type: 'category',
      inverse: true,
      data: Array.from({ length: rows }, (_, r) => String(r * cols + 1)),
      axisTick: { show: false },
    },
    visualMap: {
      type: 'continuous',
      seriesIndex: 0,
      dimension: 2,
      min: lo,
      max: hi,
      calculable: false,
      orient: 'horizontal',
      left: 'center',
      bottom: 0,
      itemHeight: 160,
      text: [`${hi} °C`, `${lo} °C`],
      inRange: { color: ['#313695', '#4575b4', '#74add1', '#abd9e9', '#fee090', '#fdae61', '#f46d43', '#d73027', '#a50026'] },
    },
    series: [
      {
        id: 'temps',
        type: 'heatmap',
        name: t('devices.cells.temperature'),
        data: readings,
        progressive: 0,
        animation: false,
        itemStyle: { borderColor: '#fff', borderWidth: 1 },
        label: { show: showLabels, fontSize: 10, formatter: (p: { data: [number, number, number] }) => formatNumber(p.data[2], locale, 0) },
        emphasis: { itemStyle: { borderColor: '#303133', borderWidth: 2 } },
      },
      {
        id: 'dropouts',
        type: 'heatmap',
        name: t('devices.cells.dropout'),
        data: dropouts,
        progressive: 0,
        animation: false,
        itemStyle: { color: CELL_COLOURS.dropout, borderColor: '#fff', borderWidth: 1, decal: HATCH },
        label: { show: showLabels, fontSize: 10, formatter: () => '×' },
      },
    ],
  }
}
