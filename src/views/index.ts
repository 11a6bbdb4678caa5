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
export { VIEW_CSS, ensureStyleSheet, ensureViewStyles } from './styles';
export {
  formatDuration,
  formatMetric,
  groupRunsByExperiment,
  relativeTime,
  runDuration,
  STATUS_LABEL,
  type ExperimentGroup,
} from './format';
export { RunsTable, type RunsTableProps, type RunAnnotation } from './RunsTable';
export { ColumnChooser, type ColumnChooserProps } from './ColumnChooser';
export {
  BASE_COLUMNS,
  DEFAULT_RUNS_TABLE_QUERY,
  columnKeysOf,
  columnText,
  sortRuns,
  type DeletedFilter,
  type RunsTableQuery,
  type SortOrder,
  type TableRun,
} from './runColumns';
export { RUNS_TABLE_CSS, ensureRunsTableStyles } from './runsTableStyles';
export { checkFilter, filterRuns, type FilterProblem } from './filterCheck';
