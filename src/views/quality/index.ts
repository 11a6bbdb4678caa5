/** The data-quality views: check results, profiles, drift reports and the output that holds any of them. */
export { CheckResultView, QualityStatus, SampleGrid, type CheckResultViewProps } from './CheckResultView';
export { ProfileView, distinctText, type ProfileViewProps } from './ProfileView';
export { DriftView, rankDrift, type DriftViewProps } from './DriftView';
export { QualityOutputView, type QualityOutputViewProps } from './QualityOutputView';
export { QualityHistogram, MiniHistogram, histogramFigure, type QualityHistogramProps } from './QualityHistogram';
export { jsonSampleTable, loadArrow, sampleTable, timestampText, decimalText, type ArrowLoader, type ArrowModule, type SampleTable } from './sampleTable';
export { formatCount, formatNumber, formatPercent, formatPValue, formatValue, observedText } from './qualityFormat';
export { QUALITY_CSS, ensureQualityStyles } from './qualityStyles';
