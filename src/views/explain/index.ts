/** The explanation views: beeswarm, mean |SHAP|, dependence, waterfall, force and LIME charts of an Explanation. */
export { ExplanationView, explanationTabs, type ExplanationTab, type ExplanationViewProps } from './ExplanationView';
export {
  beeswarmChart,
  dependenceChart,
  forceChart,
  limeChart,
  meanAbsChart,
  outputText,
  waterfallChart,
  SHAP_BLUE,
  SHAP_RED,
  type Chart,
} from './explainFigures';
export {
  beeswarmOffsets,
  correlation,
  featureLabel,
  featureOrder,
  foldFeatures,
  forceSides,
  meanAbs,
  normalizeColumn,
  orderByMagnitude,
  quantileSorted,
  rowLabel,
  topInteraction,
  waterfall,
  type ForceSide,
  type Waterfall,
  type WaterfallStep,
} from './explainData';
export { EXPLAIN_CSS, ensureExplainStyles } from './explainStyles';
