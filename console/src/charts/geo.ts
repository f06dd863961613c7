/** The map's ECharts parts (geo component, map, points, paths); imported by the map page. */
import { EffectScatterChart, LinesChart, MapChart, ScatterChart } from 'echarts/charts'
import { GeoComponent } from 'echarts/components'
import { echarts } from './echarts'

echarts.use([EffectScatterChart, LinesChart, MapChart, ScatterChart, GeoComponent])

export { echarts }
export type { EChartsOption } from './echarts'
