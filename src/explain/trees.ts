import { onnx } from 'onnx-proto';
import { attributesOf, longToNumber, opsetOf, type AttributeValue } from './onnx-graph';

/**
 * Tree ensembles read from ONNX (`ai.onnx.ml` TreeEnsembleRegressor / TreeEnsembleClassifier, opsets
 * 1 and 3, and the TreeEnsemble op of opset 5) into flat typed arrays, and their raw scores.
 *
 * The raw score is what the ensemble computes before its post-transform: per output column, the sum
 * of the leaf weights the row reaches (divided by the number of trees for AVERAGE) plus base_values.
 * TreeSHAP explains that score, since it is a sum over trees; the post-transform (LOGISTIC, SOFTMAX)
 * is not.
 *
 * Classifier columns. A classifier's raw columns follow its class ids, one per class label, except
 * the binary case as skl2onnx and onnxmltools export it (two labels, every leaf weight on one class
 * id): then there is ONE raw column, the score of the positive class `classLabels[1]`, and
 * onnxruntime derives both probabilities from it. What that score is, by exporter:
 *   - sklearn GradientBoostingClassifier, xgboost XGBClassifier, lightgbm LGBMClassifier (binary):
 *     the log-odds of class 1 (post_transform LOGISTIC) = decision_function / output_margin / raw_score;
 *   - sklearn RandomForestClassifier (binary): the probability of class 1 (post_transform NONE, each
 *     tree's leaf weights already divided by the number of trees);
 *   - multi-class: one column per class, log-odds-like margins before SOFTMAX for GB/xgboost/lightgbm,
 *     probabilities (NONE) for random forests.
 * `outputLabels[k]` names the class each raw column scores.
 */

/** How a branch node compares the input with its threshold (the ONNX modes; MEMBER is opset 5). */
export enum NodeMode {
  LEQ = 0,
  LT = 1,
  GTE = 2,
  GT = 3,
  EQ = 4,
  NEQ = 5,
  MEMBER = 6,
  LEAF = 7,
}

export type Aggregate = 'SUM' | 'AVERAGE';

export interface TreeEnsemble {
  /** The ONNX op it came from. */
  op: 'TreeEnsembleRegressor' | 'TreeEnsembleClassifier' | 'TreeEnsemble';
  /** What the explanation schema calls it (the opset-5 TreeEnsemble op counts as a regressor). */
  kind: 'tree_regressor' | 'tree_classifier';
  /** The graph's one 2-D input: name and width (= nFeatures). */
  inputName: string;
  /** The ensemble sees float32 (compare Math.fround(x) with the thresholds, as onnxruntime does). */
  roundToFloat32: boolean;
  /** The ensemble node's output holding the scores (regressor: output 0, classifier: output 1). */
  scoreOutput: string;
  nFeatures: number;
  nOutputs: number;
  nTrees: number;
  /**
   * Nodes of all trees, tree by tree in depth-first preorder: tree t holds nodes
   * treeStart[t] .. treeStart[t+1]-1 and its root is treeStart[t].
   */
  treeStart: Int32Array;
  /** Per node: the feature it tests (-1 for a leaf). */
  feature: Int32Array;
  /** Per node: the threshold (as the file stores it: float32 values widened, or doubles). */
  threshold: Float64Array;
  /** Per node: NodeMode. */
  mode: Uint8Array;
  /** Per node: the child taken when the comparison holds / fails (global node indices; -1 for leaves). */
  trueChild: Int32Array;
  falseChild: Int32Array;
  /** Per node: 1 when a NaN input goes to the true child. */
  missingTrue: Uint8Array;
  /** Per MEMBER node: its set is members[memberStart[n] .. memberStart[n+1]-1]. */
  memberStart: Int32Array;
  members: Float64Array;
  /** Per leaf node: its weights are (leafOutput[i], leafWeight[i]) for i in leafStart[n] .. leafStart[n+1]-1. */
  leafStart: Int32Array;
  leafOutput: Int32Array;
  leafWeight: Float64Array;
  /** Added to each raw output column. */
  baseValues: Float64Array;
  aggregate: Aggregate;
  /** NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO or PROBIT: applied after the raw score, not explained. */
  postTransform: string;
  /** Classifiers: every class label, in order. */
  classLabels?: Array<number | string>;
  /** Classifiers: the class label each raw output column scores (see the header comment). */
  outputLabels?: Array<number | string>;
  /** Longest root-to-leaf path, in edges. */
  maxDepth: number;
}

export type EnsembleInspection = { ensemble: TreeEnsemble; reason?: undefined } | { ensemble: null; reason: string };

const TREE_OPS = new Set(['TreeEnsembleRegressor', 'TreeEnsembleClassifier', 'TreeEnsemble']);
const MODE_NAMES: Record<string, NodeMode> = {
  BRANCH_LEQ: NodeMode.LEQ,
  BRANCH_LT: NodeMode.LT,
  BRANCH_GTE: NodeMode.GTE,
  BRANCH_GT: NodeMode.GT,
  BRANCH_EQ: NodeMode.EQ,
  BRANCH_NEQ: NodeMode.NEQ,
  BRANCH_MEMBER: NodeMode.MEMBER,
  LEAF: NodeMode.LEAF,
};
const POST_TRANSFORMS_V5 = ['NONE', 'SOFTMAX', 'LOGISTIC', 'SOFTMAX_ZERO', 'PROBIT'];
const AGGREGATES_V5 = ['AVERAGE', 'SUM', 'MIN', 'MAX'];
const FLOAT = 1;
const DOUBLE = 11;

/** The model's tree ensemble, or null when it has none this module can explain. */
export function extractEnsemble(model: onnx.IModelProto): TreeEnsemble | null {
  return inspectEnsemble(model).ensemble;
}

/**
 * The model's tree ensemble, or why there is none (for the CLI: "not a tree ensemble (REASON); use
 * --method kernel"). Accepted: one 2-D float or double graph input of known width feeding exactly one
 * tree-ensemble node, directly or through Cast/Identity nodes, whose aggregate is SUM or AVERAGE.
 */
export function inspectEnsemble(model: onnx.IModelProto): EnsembleInspection {
  const reject = (reason: string): EnsembleInspection => ({ ensemble: null, reason });
  const graph = model.graph;
  if (!graph) return reject('the model has no graph');
  const nodes = graph.node ?? [];
  const trees = nodes.filter((n) => TREE_OPS.has(n.opType ?? '') && n.domain === 'ai.onnx.ml');
  if (trees.length === 0) return reject('it has no ai.onnx.ml tree-ensemble node');
  if (trees.length > 1) return reject(`it has ${trees.length} tree-ensemble nodes; one is supported`);
  const node = trees[0];

  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? ''));
  if (inputs.length !== 1) return reject(`it has ${inputs.length} inputs; a tree ensemble is explained on one 2-D float input`);
  const input = inputs[0];
  const tensorType = input.type?.tensorType;
  const elemType = tensorType?.elemType ?? 0;
  const dims = tensorType?.shape?.dim ?? [];
  if (elemType !== FLOAT && elemType !== DOUBLE) return reject(`its input ${input.name} is not a float tensor`);
  if (dims.length !== 2) return reject(`its input ${input.name} is not 2-D`);
  const width = longToNumber(dims[1].dimValue);
  if (!(width > 0)) return reject(`its input ${input.name} has no fixed number of columns`);

  // Walk back from the ensemble's input to the graph input through Cast/Identity only; the last
  // Cast decides whether the ensemble compares float32 or double values.
  const producer = new Map<string, onnx.INodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  let name = (node.input ?? [])[0] ?? '';
  let seenType: number | undefined;
  for (let hops = 0; name !== input.name; hops++) {
    const p = producer.get(name);
    if (!p || hops > 16 || (p.opType !== 'Cast' && p.opType !== 'Identity')) {
      return reject(`the ensemble's input ${name} is computed from ${input.name} by ${p ? p.opType : 'something else'}, not taken as is`);
    }
    if (p.opType === 'Cast' && seenType === undefined) seenType = attributesOf(p).get('to') as number;
    name = (p.input ?? [])[0] ?? '';
  }
  const ensembleType = seenType ?? elemType;
  if (ensembleType !== FLOAT && ensembleType !== DOUBLE) return reject(`the ensemble's input is cast to type ${ensembleType}, not float`);

  const attrs = attributesOf(node);
  const op = node.opType as TreeEnsemble['op'];
  const opset = opsetOf(model, 'ai.onnx.ml') ?? 1;
  let raw: RawEnsemble | string;
  try {
    raw = op === 'TreeEnsemble' ? readV5(attrs) : readV3(attrs, op);
  } catch (error) {
    return reject(`its ${op} node is malformed: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof raw === 'string') return reject(raw);
  for (let i = 0; i < raw.feature.length; i++) {
    if (raw.mode[i] !== NodeMode.LEAF && (raw.feature[i] < 0 || raw.feature[i] >= width)) {
      return reject(`a node tests feature ${raw.feature[i]} but the input has ${width} columns`);
    }
  }
  for (let i = 0; i < raw.leafOutputs.length; i++) {
    for (const o of raw.leafOutputs[i]) if (o < 0 || o >= raw.nOutputs) return reject(`a leaf writes output ${o} of ${raw.nOutputs}`);
  }
  let ensemble: TreeEnsemble;
  try {
    ensemble = layout(raw, {
      op,
      kind: op === 'TreeEnsembleClassifier' ? 'tree_classifier' : 'tree_regressor',
      inputName: input.name ?? '',
      roundToFloat32: ensembleType === FLOAT,
      scoreOutput: (node.output ?? [])[op === 'TreeEnsembleClassifier' ? 1 : 0] ?? '',
      nFeatures: width,
    });
  } catch (error) {
    return reject(`its ${op} node (ai.onnx.ml opset ${opset}) is malformed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { ensemble };
}

/** The trees as read, before the depth-first relayout: nodes with children as indices into the same list. */
interface RawEnsemble {
  feature: number[];
  threshold: ArrayLike<number>;
  mode: number[];
  trueChild: number[];
  falseChild: number[];
  missingTrue: number[];
  memberSets: Array<number[] | undefined>;
  leafOutputs: number[][];
  leafWeights: number[][];
  roots: number[];
  nOutputs: number;
  baseValues: number[];
  aggregate: Aggregate;
  postTransform: string;
  classLabels?: Array<number | string>;
  outputLabels?: Array<number | string>;
}

function numbers(attrs: Map<string, AttributeValue>, name: string): number[] | undefined {
  const plain = attrs.get(name);
  if (Array.isArray(plain) && (plain.length === 0 || typeof plain[0] === 'number')) return plain as number[];
  const tensor = attrs.get(`${name}_as_tensor`);
  if (tensor && typeof tensor === 'object' && !Array.isArray(tensor)) return Array.from(tensorValues(tensor));
  return undefined;
}

function ints(attrs: Map<string, AttributeValue>, name: string): number[] {
  const v = attrs.get(name);
  return Array.isArray(v) ? (v as number[]) : [];
}

/** A numeric tensor's values (float, double, integer types; raw_data little-endian). */
export function tensorValues(t: onnx.ITensorProto): Float64Array {
  const type = t.dataType ?? 0;
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const size = { 1: 4, 2: 1, 3: 1, 5: 2, 6: 4, 7: 8, 11: 8 }[type];
    if (!size) throw new Error(`tensor ${t.name ?? ''} has unsupported data type ${type}`);
    const out = new Float64Array(raw.byteLength / size);
    for (let i = 0; i < out.length; i++) {
      const at = i * size;
      out[i] =
        type === 1
          ? view.getFloat32(at, true)
          : type === 11
            ? view.getFloat64(at, true)
            : type === 2
              ? view.getUint8(at)
              : type === 3
                ? view.getInt8(at)
                : type === 5
                  ? view.getInt16(at, true)
                  : type === 6
                    ? view.getInt32(at, true)
                    : Number(view.getBigInt64(at, true));
    }
    return out;
  }
  if (type === FLOAT) return Float64Array.from(t.floatData ?? []);
  if (type === DOUBLE) return Float64Array.from(t.doubleData ?? []);
  if (type === 7) return Float64Array.from((t.int64Data ?? []).map((v) => longToNumber(v)));
  return Float64Array.from(t.int32Data ?? []);
}

/** TreeEnsembleRegressor / TreeEnsembleClassifier (opsets 1 and 3): nodes named by (tree id, node id). */
function readV3(attrs: Map<string, AttributeValue>, op: string): RawEnsemble | string {
  const classifier = op === 'TreeEnsembleClassifier';
  const treeIds = ints(attrs, 'nodes_treeids');
  const nodeIds = ints(attrs, 'nodes_nodeids');
  const n = treeIds.length;
  const features = ints(attrs, 'nodes_featureids');
  const values = numbers(attrs, 'nodes_values') ?? [];
  const modeNames = (attrs.get('nodes_modes') as string[] | undefined) ?? [];
  const trues = ints(attrs, 'nodes_truenodeids');
  const falses = ints(attrs, 'nodes_falsenodeids');
  const missing = ints(attrs, 'nodes_missing_value_tracks_true');
  if (nodeIds.length !== n || modeNames.length !== n || features.length !== n || trues.length !== n || falses.length !== n) {
    throw new Error('its nodes_* attributes differ in length');
  }
  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) index.set(`${treeIds[i]}:${nodeIds[i]}`, i);
  const mode: number[] = [];
  for (const m of modeNames) {
    const code = MODE_NAMES[m];
    if (code === undefined || code === NodeMode.MEMBER) throw new Error(`unknown node mode ${m}`);
    mode.push(code);
  }
  const trueChild = new Array<number>(n).fill(-1);
  const falseChild = new Array<number>(n).fill(-1);
  const referenced = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (mode[i] === NodeMode.LEAF) continue;
    const t = index.get(`${treeIds[i]}:${trues[i]}`);
    const f = index.get(`${treeIds[i]}:${falses[i]}`);
    if (t === undefined || f === undefined) throw new Error(`node ${nodeIds[i]} of tree ${treeIds[i]} points to a missing child`);
    trueChild[i] = t;
    falseChild[i] = f;
    referenced[t] = 1;
    referenced[f] = 1;
  }
  const roots: number[] = [];
  const seenTrees = new Set<number>();
  for (let i = 0; i < n; i++) {
    if (referenced[i]) continue;
    if (seenTrees.has(treeIds[i])) throw new Error(`tree ${treeIds[i]} has more than one root`);
    seenTrees.add(treeIds[i]);
    roots.push(i);
  }

  const prefix = classifier ? 'class' : 'target';
  const wTrees = ints(attrs, `${prefix}_treeids`);
  const wNodes = ints(attrs, `${prefix}_nodeids`);
  const wIds = ints(attrs, `${prefix}_ids`);
  const weights = numbers(attrs, `${prefix}_weights`) ?? [];
  if (wNodes.length !== wTrees.length || wIds.length !== wTrees.length || weights.length !== wTrees.length) {
    throw new Error(`its ${prefix}_* attributes differ in length`);
  }
  const leafOutputs: number[][] = Array.from({ length: n }, () => []);
  const leafWeights: number[][] = Array.from({ length: n }, () => []);
  const distinctIds = new Set(wIds);
  let idShift = 0;
  let nOutputs: number;
  let baseValues = numbers(attrs, 'base_values') ?? [];
  let classLabels: Array<number | string> | undefined;
  let outputLabels: Array<number | string> | undefined;
  if (classifier) {
    const intLabels = ints(attrs, 'classlabels_int64s');
    const strLabels = attrs.get('classlabels_strings');
    classLabels = intLabels.length > 0 ? intLabels : Array.isArray(strLabels) ? (strLabels as string[]) : [];
    if (classLabels.length === 0) throw new Error('it has no class labels');
    if (classLabels.length === 2 && distinctIds.size === 1) {
      // The binary case: one score for the positive class (onnxruntime's binary_case_); base_values
      // of length 2 add their second entry, of length 1 their only one.
      const only = wIds[0];
      idShift = only;
      nOutputs = 1;
      baseValues = baseValues.length === 2 ? [baseValues[1]] : baseValues.length === 1 ? [baseValues[0]] : [0];
      outputLabels = [classLabels[1]];
    } else {
      nOutputs = classLabels.length;
      outputLabels = classLabels.slice();
    }
  } else {
    nOutputs = (attrs.get('n_targets') as number | undefined) ?? Math.max(0, ...wIds) + 1;
  }
  for (let i = 0; i < wTrees.length; i++) {
    const at = index.get(`${wTrees[i]}:${wNodes[i]}`);
    if (at === undefined) throw new Error(`a weight names node ${wNodes[i]} of tree ${wTrees[i]}, which does not exist`);
    leafOutputs[at].push(wIds[i] - idShift);
    leafWeights[at].push(weights[i]);
  }
  if (baseValues.length === 0) baseValues = new Array<number>(nOutputs).fill(0);
  else if (baseValues.length === 1 && nOutputs > 1) baseValues = new Array<number>(nOutputs).fill(baseValues[0]);
  else if (baseValues.length !== nOutputs) throw new Error(`it has ${baseValues.length} base_values for ${nOutputs} outputs`);

  const aggregate = String(attrs.get('aggregate_function') ?? 'SUM');
  if (aggregate !== 'SUM' && aggregate !== 'AVERAGE') return `its aggregate_function is ${aggregate}, which is not a sum over trees`;
  return {
    feature: features.map((f, i) => (mode[i] === NodeMode.LEAF ? -1 : f)),
    threshold: values.length === n ? values : new Array<number>(n).fill(0),
    mode,
    trueChild,
    falseChild,
    missingTrue: Array.from({ length: n }, (_, i) => (missing[i] ? 1 : 0)),
    memberSets: [],
    leafOutputs,
    leafWeights,
    roots,
    nOutputs,
    baseValues,
    aggregate,
    postTransform: String(attrs.get('post_transform') ?? 'NONE'),
    classLabels,
    outputLabels,
  };
}

/** TreeEnsemble (ai.onnx.ml opset 5): interior nodes in nodes_*, leaves in leaf_*, trees by tree_roots. */
function readV5(attrs: Map<string, AttributeValue>): RawEnsemble | string {
  const tensor = (name: string): Float64Array => {
    const t = attrs.get(name);
    return t && typeof t === 'object' && !Array.isArray(t) ? tensorValues(t) : new Float64Array(0);
  };
  const features = ints(attrs, 'nodes_featureids');
  const m = features.length;
  const splits = tensor('nodes_splits');
  const modes = tensor('nodes_modes');
  const trues = ints(attrs, 'nodes_truenodeids');
  const falses = ints(attrs, 'nodes_falsenodeids');
  const trueLeaf = ints(attrs, 'nodes_trueleafs');
  const falseLeaf = ints(attrs, 'nodes_falseleafs');
  const missing = ints(attrs, 'nodes_missing_value_tracks_true');
  const targets = ints(attrs, 'leaf_targetids');
  const weights = tensor('leaf_weights');
  const memberValues = tensor('membership_values');
  const treeRoots = ints(attrs, 'tree_roots');
  if (modes.length !== m || trues.length !== m || falses.length !== m || trueLeaf.length !== m || falseLeaf.length !== m) {
    throw new Error('its nodes_* attributes differ in length');
  }
  if (targets.length !== weights.length) throw new Error('leaf_targetids and leaf_weights differ in length');
  const aggregate = AGGREGATES_V5[(attrs.get('aggregate_function') as number | undefined) ?? 1] ?? 'unknown';
  if (aggregate !== 'SUM' && aggregate !== 'AVERAGE') return `its aggregate_function is ${aggregate}, which is not a sum over trees`;

  // Interior nodes keep their indices 0..m-1; leaf k becomes node m+k.
  const total = m + targets.length;
  const feature = new Array<number>(total).fill(-1);
  const threshold = new Float64Array(total);
  const mode = new Array<number>(total).fill(NodeMode.LEAF);
  const trueChild = new Array<number>(total).fill(-1);
  const falseChild = new Array<number>(total).fill(-1);
  const missingTrue = new Array<number>(total).fill(0);
  const memberSets: Array<number[] | undefined> = [];
  let memberAt = 0;
  const child = (id: number, leaf: number): number => {
    const at = leaf ? m + id : id;
    if (id < 0 || at >= total) throw new Error(`a node points to missing ${leaf ? 'leaf' : 'node'} ${id}`);
    return at;
  };
  for (let i = 0; i < m; i++) {
    const code = modes[i];
    if (!(code >= 0 && code <= NodeMode.MEMBER)) throw new Error(`unknown node mode ${code}`);
    mode[i] = code;
    feature[i] = features[i];
    threshold[i] = splits[i] ?? 0;
    trueChild[i] = child(trues[i], trueLeaf[i]);
    falseChild[i] = child(falses[i], falseLeaf[i]);
    missingTrue[i] = missing[i] ? 1 : 0;
    if (code === NodeMode.MEMBER) {
      const set: number[] = [];
      while (memberAt < memberValues.length && !Number.isNaN(memberValues[memberAt])) set.push(memberValues[memberAt++]);
      memberAt++; // the NaN delimiter
      memberSets[i] = set;
    }
  }
  const leafOutputs: number[][] = Array.from({ length: total }, () => []);
  const leafWeights: number[][] = Array.from({ length: total }, () => []);
  for (let k = 0; k < targets.length; k++) {
    leafOutputs[m + k].push(targets[k]);
    leafWeights[m + k].push(weights[k]);
  }
  const nOutputs = (attrs.get('n_targets') as number | undefined) ?? Math.max(0, ...targets) + 1;
  return {
    feature,
    threshold,
    mode,
    trueChild,
    falseChild,
    missingTrue,
    memberSets,
    leafOutputs,
    leafWeights,
    roots: treeRoots,
    nOutputs,
    baseValues: new Array<number>(nOutputs).fill(0),
    aggregate,
    postTransform: POST_TRANSFORMS_V5[(attrs.get('post_transform') as number | undefined) ?? 0] ?? 'NONE',
  };
}

/**
 * Lays the trees out depth-first, tree by tree, into typed arrays. A branch whose two children are
 * the same node (how opset 5 writes a one-leaf tree) is skipped over: it splits nothing.
 */
function layout(raw: RawEnsemble, head: Pick<TreeEnsemble, 'op' | 'kind' | 'inputName' | 'roundToFloat32' | 'scoreOutput' | 'nFeatures'>): TreeEnsemble {
  const skip = (i: number): number => {
    for (let hops = 0; raw.mode[i] !== NodeMode.LEAF && raw.trueChild[i] === raw.falseChild[i]; hops++) {
      if (hops > raw.mode.length) throw new Error('a tree has a cycle');
      i = raw.trueChild[i];
    }
    return i;
  };
  const order: number[] = [];
  const depthOf: number[] = [];
  const treeStart = new Int32Array(raw.roots.length + 1);
  let maxDepth = 0;
  const visited = new Uint8Array(raw.mode.length);
  raw.roots.forEach((root, t) => {
    treeStart[t] = order.length;
    const stack: Array<[number, number]> = [[skip(root), 0]];
    while (stack.length > 0) {
      const [i, depth] = stack.pop() as [number, number];
      if (visited[i]) throw new Error('a node belongs to two trees or a tree has a cycle');
      visited[i] = 1;
      order.push(i);
      depthOf.push(depth);
      if (depth > maxDepth) maxDepth = depth;
      if (raw.mode[i] !== NodeMode.LEAF) {
        stack.push([skip(raw.falseChild[i]), depth + 1]);
        stack.push([skip(raw.trueChild[i]), depth + 1]);
      }
    }
  });
  treeStart[raw.roots.length] = order.length;
  const total = order.length;
  const newIndex = new Int32Array(raw.mode.length).fill(-1);
  order.forEach((old, i) => (newIndex[old] = i));

  const feature = new Int32Array(total);
  const threshold = new Float64Array(total);
  const mode = new Uint8Array(total);
  const trueChild = new Int32Array(total);
  const falseChild = new Int32Array(total);
  const missingTrue = new Uint8Array(total);
  const memberStart = new Int32Array(total + 1);
  const memberList: number[] = [];
  const leafStart = new Int32Array(total + 1);
  const outputs: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < total; i++) {
    const old = order[i];
    const leaf = raw.mode[old] === NodeMode.LEAF;
    feature[i] = leaf ? -1 : raw.feature[old];
    threshold[i] = leaf ? 0 : raw.threshold[old];
    mode[i] = raw.mode[old];
    trueChild[i] = leaf ? -1 : newIndex[skip(raw.trueChild[old])];
    falseChild[i] = leaf ? -1 : newIndex[skip(raw.falseChild[old])];
    missingTrue[i] = raw.missingTrue[old];
    memberStart[i] = memberList.length;
    if (raw.mode[old] === NodeMode.MEMBER) memberList.push(...(raw.memberSets[old] ?? []));
    leafStart[i] = outputs.length;
    if (leaf) {
      outputs.push(...raw.leafOutputs[old]);
      weights.push(...raw.leafWeights[old]);
    }
  }
  memberStart[total] = memberList.length;
  leafStart[total] = outputs.length;
  return {
    ...head,
    nOutputs: raw.nOutputs,
    nTrees: raw.roots.length,
    treeStart,
    feature,
    threshold,
    mode,
    trueChild,
    falseChild,
    missingTrue,
    memberStart,
    members: Float64Array.from(memberList),
    leafStart,
    leafOutput: Int32Array.from(outputs),
    leafWeight: Float64Array.from(weights),
    baseValues: Float64Array.from(raw.baseValues),
    aggregate: raw.aggregate,
    postTransform: raw.postTransform,
    classLabels: raw.classLabels,
    outputLabels: raw.outputLabels,
    maxDepth,
  };
}

/**
 * Whether value `v` goes to the true child of branch node `n`, as onnxruntime routes: the comparison,
 * or the missing-value flag when `v` is NaN (comparisons with NaN are false, except NEQ which is true).
 */
export function goesTrue(e: TreeEnsemble, n: number, v: number): boolean {
  const t = e.threshold[n];
  let holds: boolean;
  switch (e.mode[n]) {
    case NodeMode.LEQ:
      holds = v <= t;
      break;
    case NodeMode.LT:
      holds = v < t;
      break;
    case NodeMode.GTE:
      holds = v >= t;
      break;
    case NodeMode.GT:
      holds = v > t;
      break;
    case NodeMode.EQ:
      holds = v === t;
      break;
    case NodeMode.NEQ:
      holds = v !== t;
      break;
    default: {
      holds = false;
      const end = e.memberStart[n + 1];
      for (let i = e.memberStart[n]; i < end; i++) {
        if (e.members[i] === v) {
          holds = true;
          break;
        }
      }
    }
  }
  return holds || (e.missingTrue[n] === 1 && v !== v);
}

/** The child of branch node `n` that value `v` goes to. */
export function childFor(e: TreeEnsemble, n: number, v: number): number {
  return goesTrue(e, n, v) ? e.trueChild[n] : e.falseChild[n];
}

/** The leaf of tree `t` that the row at `X[offset .. offset + nFeatures)` reaches. */
export function leafFor(e: TreeEnsemble, t: number, X: Float64Array, offset: number): number {
  let n = e.treeStart[t];
  while (e.mode[n] !== NodeMode.LEAF) n = childFor(e, n, X[offset + e.feature[n]]);
  return n;
}

/**
 * The rows as the ensemble compares them: a copy rounded to float32 when the ensemble sees float32.
 * @throws Error when X is not rows x nFeatures.
 */
export function ensembleInput(e: TreeEnsemble, X: Float64Array, rows?: number, cols?: number): Float64Array {
  const width = cols ?? e.nFeatures;
  if (width !== e.nFeatures) throw new Error(`the data has ${width} columns; the model takes ${e.nFeatures}`);
  const n = rows ?? X.length / width;
  if (!Number.isInteger(n) || n * width !== X.length) throw new Error(`the data holds ${X.length} values, not rows x ${width}`);
  if (!e.roundToFloat32) return X;
  const out = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) out[i] = Math.fround(X[i]);
  return out;
}

/** Divides leaf weights by this for the raw score (1 for SUM, the number of trees for AVERAGE). */
export function leafScale(e: TreeEnsemble): number {
  return e.aggregate === 'AVERAGE' ? 1 / Math.max(1, e.nTrees) : 1;
}

/**
 * The raw ensemble score before post_transform, rows x nOutputs (row-major): the leaf weights each
 * row reaches, summed per output (divided by the number of trees for AVERAGE), plus base_values.
 */
export function rawScores(e: TreeEnsemble, X: Float64Array, rows: number, cols: number): Float64Array {
  const input = ensembleInput(e, X, rows, cols);
  const k = e.nOutputs;
  const out = new Float64Array(rows * k);
  const scale = leafScale(e);
  for (let r = 0; r < rows; r++) {
    const offset = r * cols;
    const o = r * k;
    for (let t = 0; t < e.nTrees; t++) {
      const leaf = leafFor(e, t, input, offset);
      for (let i = e.leafStart[leaf]; i < e.leafStart[leaf + 1]; i++) out[o + e.leafOutput[i]] += e.leafWeight[i];
    }
    for (let j = 0; j < k; j++) out[o + j] = out[o + j] * scale + e.baseValues[j];
  }
  return out;
}
