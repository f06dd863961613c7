/**
 * ECharts, imported modularly: only the charts and components the console uses are bundled
 * (the full build is ~1 MB). Pages import `echarts` from here, never from 'echarts' directly.
 * The core set (bars, lines, pies and their components) is registered here; the map's geo
 * layers and the heatmap are registered by `./geo` and `./heatmap`, imported by the pages that
 * draw them, so the overview's initial route does not carry them.
 */
import * as echarts from 'echarts/core'
import { BarChart, LineChart, PieChart } from 'echarts/charts'
import {
  AriaComponent,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  MarkPointComponent,
  TitleComponent,
  TooltipComponent,
} from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

echarts.use([
  BarChart,
  LineChart,
  PieChart,
  AriaComponent,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  MarkPointComponent,
  TitleComponent,
  TooltipComponent,
  CanvasRenderer,
])

export { echarts }
export type EChartsOption = echarts.EChartsCoreOption
