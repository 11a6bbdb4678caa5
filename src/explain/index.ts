/** Explanations: exact TreeSHAP on ONNX tree ensembles, KernelSHAP and LIME on any ONNX model. */
export { explainModel, parseRows, DEFAULT_ROWS, TREE_BACKGROUND_ROWS, SAMPLE_BACKGROUND_ROWS, type ExplainJob, type ExplainHooks, type ModelToExplain } from './explain';
export { computeExplanation, chooseOutput, chooseTreeOutput, KERNEL_BACKGROUND_ROWS, type WorkerRequest, type ComputeResult } from './compute';
export { decodeOnnx, readOnnxFile, type OnnxFile } from './onnx-graph';
export { inspectEnsemble, extractEnsemble, rawScores, type TreeEnsemble } from './trees';
export { interventionalTreeShap, pathDependentTreeShap } from './tree-shap';
export { kernelShap } from './kernel-shap';
export { limeTabular } from './lime';
export { summarizeBackground, kmeans } from './kmeans';
export { openModel, type ModelRunner, type ModelOutput, type OutputRef } from './model-runner';
