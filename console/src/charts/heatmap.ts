/** The heatmap and its visual map; imported by the pages that draw a heatmap. */
import { HeatmapChart } from 'echarts/charts'
import { VisualMapComponent } from 'echarts/components'
import { echarts } from './echarts'

echarts.use([HeatmapChart, VisualMapComponent])

export { echarts }
