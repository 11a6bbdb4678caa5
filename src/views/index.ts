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
export {
  OverlayChart,
  overlayFigure,
  DEFAULT_OVERLAY_OPTIONS,
  type OverlayChartProps,
  type OverlayOptions,
  type OverlaySeries,
  type OverlayXAxis,
} from './OverlayChart';
export { RunsOverlay, type OverlayRun, type RunsOverlayProps, type SeriesLoader } from './RunsOverlay';
export { ParallelCoordinates, parallelCoordinatesFigure, type ParallelCoordinatesProps, type ParamRun } from './ParallelCoordinates';
export { ParamScatter, paramScatterFigure, type ParamScatterProps } from './ParamScatter';
export { CompareView, bestCells, type CompareViewProps } from './CompareView';
export { SweepView, sortChildren, type SweepRun, type SweepViewProps } from './SweepView';
export { defaultDirection, smoothEma, paramAxis, differingParamKeys, type MetricDirection } from './compareData';
export { COMPARE_CSS, ensureCompareStyles } from './compareStyles';
export { loadFullPlotly } from './plotlyFull';
export { ArtifactsList, BlobImage, formatBytes, parseCsv, previewKind, type ArtifactsListProps, type PreviewKind } from './ArtifactsList';
export { ModelsList, type ModelsListProps } from './ModelsList';
export * from './quality';
export * from './explain';
export * from './serve';
export * from './deploy';
