/**
 * ECharts, imported modularly: only the charts and components the console uses are bundled
 * (the full build is ~1 MB). Pages import `echarts` from here, never from 'echarts' directly.
 */
import * as echarts from 'echarts/core'
import { BarChart, HeatmapChart, LineChart, LinesChart, MapChart, PieChart, ScatterChart, EffectScatterChart } from 'echarts/charts'
import {
  DataZoomComponent,
  GeoComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  MarkPointComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapComponent,
  AriaComponent,
} from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

echarts.use([
  BarChart,
  HeatmapChart,
  LineChart,
  LinesChart,
  MapChart,
  PieChart,
  ScatterChart,
  EffectScatterChart,
  DataZoomComponent,
  GeoComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  MarkPointComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapComponent,
  AriaComponent,
  CanvasRenderer,
])

export { echarts }
export type EChartsOption = echarts.EChartsCoreOption
