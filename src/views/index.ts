/**
 * React views shared by the JupyterLab extension and the VS Code webviews. Browser-only: nothing
 * here may import node modules or an editor's API.
 */
export { RunList, type RunListProps } from './RunList';
export { RunDetail, type RunDetailProps } from './RunDetail';
export { RunCard, type RunCardProps } from './RunCard';
export { MetricChart, chartFigure, type MetricChartProps } from './MetricChart';
export { StatusBadge } from './StatusBadge';
export { MetricValues } from './MetricValues';
export { readChartTheme, watchThemeChanges, type ChartTheme } from './chartTheme';
export { loadPlotly, type PlotlyApi, type PlotlyLoader } from './plotly';
export { VIEW_CSS, ensureViewStyles } from './styles';
export {
  formatDuration,
  formatMetric,
  groupRunsByExperiment,
  relativeTime,
  runDuration,
  STATUS_LABEL,
  type ExperimentGroup,
} from './format';
