import { ensembleInput, goesTrue, leafScale, NodeMode, rawScores, type TreeEnsemble } from './trees';

/**
 * Exact TreeSHAP on the raw score of one output column of a tree ensemble (see trees.ts for what the
 * raw score and the columns are). Pure functions over typed arrays, no I/O: they can run in a worker.
 *
 * Both return, for rows x nFeatures inputs, values (rows x nFeatures, row-major), base (rows) and raw
 * (rows, the raw score of the explained column) with base[r] + sum(values[r]) == raw[r].
 */

export interface TreeShapResult {
  values: Float64Array;
  base: Float64Array;
  raw: Float64Array;
}

export interface TreeShapOptions {
  /** Called as rows get done (interventional: rows of the block in progress counted pro rata to its trees done). */
  onProgress?: (doneRows: number, totalRows: number) => void;
  /** Checked between rows; when it returns true the work stops with a TreeShapCancelled. */
  shouldStop?: () => boolean;
}

/** The work was stopped through shouldStop. */
export class TreeShapCancelled extends Error {
  constructor(readonly doneRows: number) {
    super(`TreeSHAP cancelled after ${doneRows} rows`);
    this.name = 'TreeShapCancelled';
  }
}

/**
 * Trees with more nodes than this are walked comparing as they go, without direction vectors: their
 * rows rarely share vectors, and the walks (which touch only where a pair's paths part) dominate
 * either way (CPU time within a few % on a 100-tree depth-12 forest and 500 63-leaf lightgbm trees).
 * Up to 1023 nodes the vectors still pay: a 100-tree depth-8 forest (trees of 300-500 nodes) took
 * 0.99 s instead of 1.16 s with a 255-node limit (bench/explain, 100 rows x 100 background rows).
 */
const DEDUP_MAX_NODES = 1023;

/** Per node: the weight its leaf adds to `output` (0 for branches), scaled for AVERAGE. */
function leafValues(e: TreeEnsemble, output: number): Float64Array {
  if (!(Number.isInteger(output) && output >= 0 && output < e.nOutputs)) {
    throw new Error(`output ${output} is not one of the ensemble's ${e.nOutputs} outputs`);
  }
  const scale = leafScale(e);
  const values = new Float64Array(e.mode.length);
  for (let n = 0; n < e.mode.length; n++) {
    for (let i = e.leafStart[n]; i < e.leafStart[n + 1]; i++) if (e.leafOutput[i] === output) values[n] += e.leafWeight[i] * scale;
  }
  return values;
}

/** Whether any leaf of tree t has a non-zero value (the trees of other classes have none). */
function treeMatters(e: TreeEnsemble, t: number, values: Float64Array): boolean {
  for (let n = e.treeStart[t]; n < e.treeStart[t + 1]; n++) if (values[n] !== 0) return true;
  return false;
}

function rawColumn(e: TreeEnsemble, X: Float64Array, rows: number, output: number): Float64Array {
  const all = rawScores(e, X, rows, e.nFeatures);
  const column = new Float64Array(rows);
  for (let r = 0; r < rows; r++) column[r] = all[r * e.nOutputs + output];
  return column;
}

function rowCount(e: TreeEnsemble, X: Float64Array, what: string): number {
  const rows = X.length / e.nFeatures;
  if (!Number.isInteger(rows)) throw new Error(`${what} holds ${X.length} values, not rows x ${e.nFeatures}`);
  return rows;
}

/**
 * Interventional TreeSHAP (Lundberg et al. 2020, "From local explanations to global understanding
 * with explainable AI for trees", Nature MI, the independent/interventional algorithm).
 *
 * For a foreground row x and one background row z, a tree's output under the coalition S (features
 * in S from x, the rest from z) is the leaf reached by the hybrid row. Walking the tree once per pair:
 * where x and z go the same way, follow them; where they part on feature f, f's owner decides: if f
 * already sided with x (in S_x) follow x, if with z (S_z) follow z, else go both ways, adding f to S_x
 * on x's side and to S_z on z's. A leaf of value v reached with |S_x| = a, |S_z| = b is the hybrid's
 * value exactly for the coalitions containing S_x and avoiding S_z, so its Shapley shares are
 *   +v * (a-1)! b! / (a+b)!  for each feature of S_x,    -v * a! (b-1)! / (a+b)!  for each of S_z
 * (the other features are free and sum out of the Shapley weights). phi(x) is the mean over the
 * background; base = mean raw score over the background.
 *
 * Speed: background rows that take the same direction at every branch of a tree walk it the same way,
 * so each tree walks each distinct background direction vector once, weighted by its count (for small
 * GB trees a few dozen vectors stand for hundreds of rows); likewise rows with the same direction
 * vector in a tree get the same contributions from it, computed once per block of rows. Cost
 * O(distinct row vectors * distinct background vectors * walked nodes) per tree; no allocation per pair.
 * Trees over DEDUP_MAX_NODES nodes skip the vectors and walk every (row, background row) pair.
 */
export function interventionalTreeShap(
  e: TreeEnsemble,
  X: Float64Array,
  background: Float64Array,
  output = 0,
  options: TreeShapOptions = {},
): TreeShapResult {
  const F = e.nFeatures;
  const rows = rowCount(e, X, 'the data');
  const bgRows = rowCount(e, background, 'the background');
  if (bgRows === 0) throw new Error('the background has no rows');
  const x = ensembleInput(e, X);
  const z = ensembleInput(e, background);
  const value = leafValues(e, output);
  const raw = rawColumn(e, X, rows, output);
  const bgRaw = rawColumn(e, background, bgRows, output);
  let expected = 0;
  for (let r = 0; r < bgRows; r++) expected += bgRaw[r];
  expected /= bgRows;
  const base = new Float64Array(rows).fill(expected);
  const phiAll = new Float64Array(rows * F); // rows x features: the SHAP values

  // POS[a*(D+1)+b] = (a-1)! b! / (a+b)!, NEG[a*(D+1)+b] = a! (b-1)! / (a+b)!, for a + b <= depth + 1,
  // by the recurrences POS(a,0) = 1/a, POS(a,b) = POS(a,b-1) b/(a+b) and NEG(0,b) = 1/b,
  // NEG(a,b) = NEG(a-1,b) a/(a+b) (no factorial overflows on deep trees).
  const D = e.maxDepth + 1;
  const POS = new Float64Array((D + 1) * (D + 1));
  const NEG = new Float64Array((D + 1) * (D + 1));
  for (let a = 1; a <= D; a++) {
    POS[a * (D + 1)] = 1 / a;
    for (let b = 1; a + b <= D; b++) POS[a * (D + 1) + b] = (POS[a * (D + 1) + b - 1] * b) / (a + b);
  }
  for (let b = 1; b <= D; b++) {
    NEG[b] = 1 / b;
    for (let a = 1; a + b <= D; a++) NEG[a * (D + 1) + b] = (NEG[(a - 1) * (D + 1) + b] * a) / (a + b);
  }

  // The trees that write this output, and the distinct features each tests.
  const trees: number[] = [];
  const featStart: number[] = [0];
  const featList: number[] = [];
  let widest = 0;
  let mostFeatures = 0;
  const seen = new Int32Array(F).fill(-1);
  for (let t = 0; t < e.nTrees; t++) {
    if (!treeMatters(e, t, value)) continue;
    trees.push(t);
    widest = Math.max(widest, e.treeStart[t + 1] - e.treeStart[t]);
    for (let n = e.treeStart[t]; n < e.treeStart[t + 1]; n++) {
      const f = e.feature[n];
      if (f >= 0 && seen[f] !== t) {
        seen[f] = t;
        featList.push(f);
      }
    }
    featStart.push(featList.length);
    mostFeatures = Math.max(mostFeatures, featStart[featStart.length - 1] - featStart[featStart.length - 2]);
  }

  // Rows go in blocks; per block and tree: the distinct background direction vectors (one byte per
  // node of the tree, 1: the true child) with how many background rows share each, and the
  // contributions of each distinct row direction vector (rows whose vectors repeat reuse them).
  const block = Math.max(1, Math.min(256, rows));
  const small = Math.min(widest, DEDUP_MAX_NODES); // the largest tree walked by direction vectors
  const zDir = new Uint8Array(bgRows * small);
  const zWeight = new Float64Array(bgRows);
  const xDir = new Uint8Array(small);
  const acc = new Float64Array(F); // the current row's contributions from the current tree
  const cache = new Float64Array(block * mostFeatures); // per distinct row vector, per tree feature
  const owner = new Uint8Array(F); // 0: free, 1: in S_x, 2: in S_z
  const sx = new Int32Array(D + 1);
  const sz = new Int32Array(D + 1);
  const { feature, trueChild, falseChild, mode } = e;
  let zAt = 0; // offset of the current background vector in zDir (walkDirect: of the background row in z)
  let xAt = 0; // walkDirect: offset of the current row in x
  let start = 0; // first node of the current tree
  let scale = 0; // background weight of the current vector / bgRows

  /** A leaf reached with |S_x| = a, |S_z| = b: its Shapley shares, into acc. */
  const leafShares = (n: number, a: number, b: number): void => {
    const v = value[n];
    if (v === 0 || a + b === 0) return;
    if (a > 0) {
      const w = v * scale * POS[a * (D + 1) + b];
      for (let i = 0; i < a; i++) acc[sx[i]] += w;
    }
    if (b > 0) {
      const w = v * scale * NEG[a * (D + 1) + b];
      for (let i = 0; i < b; i++) acc[sz[i]] -= w;
    }
  };

  // Two walks for one pair: they loop down while the pair goes one way and recurse where it parts.
  // The same steps twice on purpose: one walk reading precomputed directions with a mode flag
  // tested at each node was 15-30% slower on deep ensembles.

  /** The walk for one (row vector, background vector) pair, reading their precomputed directions. */
  const walk = (n: number, a: number, b: number): void => {
    for (;;) {
      if (mode[n] === NodeMode.LEAF) {
        leafShares(n, a, b);
        return;
      }
      const local = n - start;
      const xTrue = xDir[local];
      const zTrue = zDir[zAt + local];
      const xc = xTrue ? trueChild[n] : falseChild[n];
      if (xTrue === zTrue) {
        n = xc;
        continue;
      }
      const zc = zTrue ? trueChild[n] : falseChild[n];
      const f = feature[n];
      const o = owner[f];
      if (o !== 0) {
        n = o === 1 ? xc : zc;
        continue;
      }
      owner[f] = 1;
      sx[a] = f;
      walk(xc, a + 1, b);
      owner[f] = 2;
      sz[b] = f;
      walk(zc, a, b + 1);
      owner[f] = 0;
      return;
    }
  };

  /** The same walk for one (row, background row) pair of a large tree, comparing as it goes. */
  const walkDirect = (n: number, a: number, b: number): void => {
    for (;;) {
      if (mode[n] === NodeMode.LEAF) {
        leafShares(n, a, b);
        return;
      }
      const f = feature[n];
      const o = owner[f];
      if (o !== 0) {
        n = goesTrue(e, n, o === 1 ? x[xAt + f] : z[zAt + f]) ? trueChild[n] : falseChild[n];
        continue;
      }
      const xc = goesTrue(e, n, x[xAt + f]) ? trueChild[n] : falseChild[n];
      const zc = goesTrue(e, n, z[zAt + f]) ? trueChild[n] : falseChild[n];
      if (xc === zc) {
        n = xc;
        continue;
      }
      owner[f] = 1;
      sx[a] = f;
      walkDirect(xc, a + 1, b);
      owner[f] = 2;
      sz[b] = f;
      walkDirect(zc, a, b + 1);
      owner[f] = 0;
      return;
    }
  };

  /** The direction vector of the row at `offset` of `data` in the current tree, into xDir; its key. */
  const directions = (data: Float64Array, offset: number, size: number): string => {
    for (let i = 0; i < size; i++) {
      const n = start + i;
      xDir[i] = mode[n] === NodeMode.LEAF ? 0 : goesTrue(e, n, data[offset + feature[n]]) ? 1 : 0;
    }
    return Buffer.from(xDir.buffer, 0, size).toString('latin1');
  };

  /** Adds acc (the tree's features f0 .. f0+k of featList) to row r's values, keeps them in cache slot `slot` (unless -1), clears acc. */
  const scatter = (r: number, f0: number, k: number, slot: number): void => {
    const phiAt = r * F;
    for (let i = 0; i < k; i++) {
      const f = featList[f0 + i];
      if (slot >= 0) cache[slot * k + i] = acc[f];
      phiAll[phiAt + f] += acc[f];
      acc[f] = 0;
    }
  };

  const zKeys = new Map<string, number>();
  const xKeys = new Map<string, number>();
  let done = 0;
  while (done < rows) {
    const end = Math.min(rows, done + block);
    let reported = done;
    for (let j = 0; j < trees.length; j++) {
      if (options.shouldStop?.()) throw new TreeShapCancelled(done);
      // Within a block, progress counts its rows pro rata to the trees done.
      const partial = done + Math.floor(((end - done) * j) / trees.length);
      if (partial > reported) options.onProgress?.((reported = partial), rows);
      const t = trees[j];
      start = e.treeStart[t];
      const size = e.treeStart[t + 1] - start;
      const f0 = featStart[j];
      const k = featStart[j + 1] - f0;
      if (size > DEDUP_MAX_NODES) {
        // A large tree: rows rarely share direction vectors, and computing them would cost more
        // than the walks, which touch only the nodes where the pair's paths part.
        scale = 1 / bgRows;
        for (let r = done; r < end; r++) {
          xAt = r * F;
          for (let u = 0; u < bgRows; u++) {
            zAt = u * F;
            walkDirect(start, 0, 0);
          }
          scatter(r, f0, k, -1);
        }
        continue;
      }
      zKeys.clear();
      let distinct = 0;
      for (let r = 0; r < bgRows; r++) {
        const key = directions(z, r * F, size);
        const at = zKeys.get(key);
        if (at !== undefined) zWeight[at] += 1;
        else {
          zKeys.set(key, distinct);
          zDir.set(xDir.subarray(0, size), distinct * size);
          zWeight[distinct] = 1;
          distinct++;
        }
      }
      xKeys.clear();
      let slots = 0;
      for (let r = done; r < end; r++) {
        const key = directions(x, r * F, size);
        const phiAt = r * F;
        const hit = xKeys.get(key);
        if (hit !== undefined) {
          for (let i = 0; i < k; i++) phiAll[phiAt + featList[f0 + i]] += cache[hit * k + i];
          continue;
        }
        for (let u = 0; u < distinct; u++) {
          zAt = u * size;
          scale = zWeight[u] / bgRows;
          walk(start, 0, 0);
        }
        scatter(r, f0, k, slots);
        xKeys.set(key, slots++);
      }
    }
    done = end;
    options.onProgress?.(done, rows);
  }
  return { values: phiAll, base, raw };
}

/**
 * Node covers: how many of the rows pass through each node (ONNX files carry no covers, and
 * nodes_hitrates are not covers), from routing `rows` through every tree.
 */
export function routeCovers(e: TreeEnsemble, rows: Float64Array): Float64Array {
  const F = e.nFeatures;
  const n = rowCount(e, rows, 'the cover rows');
  const z = ensembleInput(e, rows);
  const cover = new Float64Array(e.mode.length);
  for (let r = 0; r < n; r++) {
    const offset = r * F;
    for (let t = 0; t < e.nTrees; t++) {
      let node = e.treeStart[t];
      cover[node] += 1;
      while (e.mode[node] !== NodeMode.LEAF) {
        node = goesTrue(e, node, z[offset + e.feature[node]]) ? e.trueChild[node] : e.falseChild[node];
        cover[node] += 1;
      }
    }
  }
  return cover;
}

/**
 * Path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent individualized feature attribution
 * for tree ensembles", Algorithm 2), as shap's C++ tree_shap_recursive does it.
 *
 * The path m holds, per unique feature split on between the root and the current node: d (feature),
 * z (the fraction of cover that flows down the path's side, "zero fraction"), o (1 if x goes that way,
 * "one fraction") and w (the permutation weight of each subset size). EXTEND adds a split, UNWIND
 * removes one (when a feature repeats, its earlier split is undone and merged); at a leaf, each
 * feature's share is v * (o - z) * (sum of weights with that feature unwound). Covers come from
 * routing `coverFrom` (default: the explained rows) through the trees; a node no row reached splits
 * its parent's share evenly. base = the cover-weighted expected value of each tree (+ base_values),
 * the same for every row.
 */
export function pathDependentTreeShap(
  e: TreeEnsemble,
  X: Float64Array,
  coverFrom: Float64Array = X,
  output = 0,
  options: TreeShapOptions = {},
): TreeShapResult {
  const F = e.nFeatures;
  const rows = rowCount(e, X, 'the data');
  const x = ensembleInput(e, X);
  const value = leafValues(e, output);
  const cover = routeCovers(e, coverFrom);
  const raw = rawColumn(e, X, rows, output);
  const { feature, trueChild, falseChild, mode } = e;

  /** The share of its parent's cover going to node `child` (an even split when the parent has none). */
  const fraction = (parent: number, child: number): number => (cover[parent] > 0 ? cover[child] / cover[parent] : 0.5);

  const trees: number[] = [];
  let expected = e.baseValues[output];
  for (let t = 0; t < e.nTrees; t++) {
    if (!treeMatters(e, t, value)) continue;
    trees.push(t);
    expected += expectedValue(e.treeStart[t]);
  }
  function expectedValue(n: number): number {
    if (mode[n] === NodeMode.LEAF) return value[n];
    return fraction(n, trueChild[n]) * expectedValue(trueChild[n]) + fraction(n, falseChild[n]) * expectedValue(falseChild[n]);
  }
  const base = new Float64Array(rows).fill(expected);
  const phi = new Float64Array(rows * F);

  // The paths of every depth live in one buffer: the path at depth k starts where depth k-1's ends,
  // each a copy of its parent's plus one element (as in shap's C++).
  const D = e.maxDepth + 2;
  const size = ((D + 1) * (D + 2)) / 2;
  const pd = new Int32Array(size);
  const pz = new Float64Array(size);
  const po = new Float64Array(size);
  const pw = new Float64Array(size);
  let phiAt = 0;
  let xAt = 0;

  /** EXTEND: appends (f, zf, of) to the path at p of length `depth` (elements p .. p+depth). */
  const extend = (p: number, depth: number, zf: number, of: number, f: number): void => {
    pd[p + depth] = f;
    pz[p + depth] = zf;
    po[p + depth] = of;
    pw[p + depth] = depth === 0 ? 1 : 0;
    for (let i = depth - 1; i >= 0; i--) {
      pw[p + i + 1] += (of * pw[p + i] * (i + 1)) / (depth + 1);
      pw[p + i] = (zf * pw[p + i] * (depth - i)) / (depth + 1);
    }
  };
  /** UNWIND: removes element `k` from the path at p whose last element is p+depth. */
  const unwind = (p: number, depth: number, k: number): void => {
    const of = po[p + k];
    const zf = pz[p + k];
    let next = pw[p + depth];
    for (let i = depth - 1; i >= 0; i--) {
      if (of !== 0) {
        const tmp = pw[p + i];
        pw[p + i] = (next * (depth + 1)) / ((i + 1) * of);
        next = tmp - (pw[p + i] * zf * (depth - i)) / (depth + 1);
      } else {
        pw[p + i] = (pw[p + i] * (depth + 1)) / (zf * (depth - i));
      }
    }
    for (let i = k; i < depth; i++) {
      pd[p + i] = pd[p + i + 1];
      pz[p + i] = pz[p + i + 1];
      po[p + i] = po[p + i + 1];
    }
  };
  /** The total permutation weight of the path at p with element k unwound (without changing it). */
  const unwoundSum = (p: number, depth: number, k: number): number => {
    const of = po[p + k];
    const zf = pz[p + k];
    let next = pw[p + depth];
    let total = 0;
    if (of !== 0) {
      for (let i = depth - 1; i >= 0; i--) {
        const tmp = next / ((i + 1) * of);
        total += tmp;
        next = pw[p + i] - tmp * zf * (depth - i);
      }
    } else if (zf !== 0) {
      for (let i = depth - 1; i >= 0; i--) total += pw[p + i] / (zf * (depth - i));
    }
    return total * (depth + 1);
  };

  /** RECURSE: node n, parent's path at `parentP` of length depth (elements parentP .. parentP+depth-1). */
  const recurse = (n: number, parentP: number, depth: number, zf: number, of: number, f: number): void => {
    const p = parentP + depth; // this level's path begins after the parent's
    for (let i = 0; i < depth; i++) {
      pd[p + i] = pd[parentP + i];
      pz[p + i] = pz[parentP + i];
      po[p + i] = po[parentP + i];
      pw[p + i] = pw[parentP + i];
    }
    extend(p, depth, zf, of, f);
    if (mode[n] === NodeMode.LEAF) {
      const v = value[n];
      if (v === 0) return;
      for (let i = 1; i <= depth; i++) phi[phiAt + pd[p + i]] += unwoundSum(p, depth, i) * (po[p + i] - pz[p + i]) * v;
      return;
    }
    const split = feature[n];
    const xTrue = goesTrue(e, n, x[xAt + split]);
    const hot = xTrue ? trueChild[n] : falseChild[n];
    const cold = xTrue ? falseChild[n] : trueChild[n];
    let inZ = 1;
    let inO = 1;
    let d = depth;
    for (let k = 1; k <= d; k++) {
      if (pd[p + k] === split) {
        inZ = pz[p + k];
        inO = po[p + k];
        unwind(p, d, k);
        d -= 1;
        break;
      }
    }
    // A side with zero and one fractions both 0 contributes nothing (and would divide by zero).
    const hotZ = fraction(n, hot) * inZ;
    if (hotZ !== 0 || inO !== 0) recurse(hot, p, d + 1, hotZ, inO, split);
    const coldZ = fraction(n, cold) * inZ;
    if (coldZ !== 0) recurse(cold, p, d + 1, coldZ, 0, split);
  };

  for (let r = 0; r < rows; r++) {
    if (r > 0 && options.shouldStop?.()) throw new TreeShapCancelled(r);
    phiAt = r * F;
    xAt = r * F;
    for (const t of trees) {
      // Length-0 path before the root; the root's extend adds the dummy element (feature -1).
      recurse(e.treeStart[t], 0, 0, 1, 1, -1);
    }
    options.onProgress?.(r + 1, rows);
  }
  return { values: phi, base, raw };
}
