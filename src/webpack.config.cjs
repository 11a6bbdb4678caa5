// The core as one file for the Python wheel: `opsbook.cjs`, run by the wheel's `opsbook` command and by
// the Python package when it starts the daemon (docs/ARCHITECTURE.md, "Packaging").
//
// Input is tsc's output (`tsc -b` first), so webpack compiles no TypeScript. Everything is bundled
// except native code: DuckDB's platform bindings (`@duckdb/node-bindings-<platform>/duckdb.node` and
// the libduckdb.so beside it) and onnxruntime-node (its binding and libonnxruntime.so). A bundle cannot
// hold native code, so `make dist` copies this platform's binding package, and onnxruntime-node with
// only this platform's binaries, to `node_modules/` next to the bundle, where Node's resolution from
// the bundle finds them. The worker threads are entries of their own, started from beside the bundle:
// `explain-worker.cjs` (src/explain/explain.ts), `serve-worker.cjs` (the serving pool's onnxruntime
// threads, src/serving/pool.ts) and `request-log-worker.cjs` (the serving request log's Parquet writer,
// src/serving/request-log.ts).
const path = require('node:path');
const webpack = require('webpack');

/** The staging folder the wheel's build hook force-includes as `opsbook/_core` (see hatch_build.py). */
const STAGE = path.resolve(__dirname, '..', 'kernel-bridge', 'python', 'build', 'core');

module.exports = {
  mode: 'production',
  target: 'node20',
  entry: {
    opsbook: path.resolve(__dirname, 'dist', 'cli', 'main.js'),
    'explain-worker': path.resolve(__dirname, 'dist', 'explain', 'worker.js'),
    'serve-worker': path.resolve(__dirname, 'dist', 'serving', 'worker.js'),
    'request-log-worker': path.resolve(__dirname, 'dist', 'serving', 'request-log-worker.js'),
  },
  output: {
    path: STAGE,
    // .cjs, so a package.json with "type": "module" above the user's environment cannot turn it into ESM.
    filename: '[name].cjs',
    library: { type: 'commonjs2' },
    clean: { keep: /^node_modules\// },
  },
  externals: [
    ({ request }, callback) =>
      /^@duckdb\/node-bindings-|^onnxruntime-node$/.test(request ?? '') ? callback(null, `commonjs ${request}`) : callback(),
  ],
  plugins: [
    // The bindings' fallback for platforms it does not list, require(`@duckdb/node-bindings-${platform}-${arch}/…`),
    // would make webpack bundle every binary under @duckdb/: ignored, that branch throws "unsupported
    // arch", as it would with no binding installed.
    new webpack.IgnorePlugin({ resourceRegExp: /^@duckdb$/, contextRegExp: /node-bindings$/ }),
  ],
  // Plain __dirname/__filename as Node gives them, not webpack's `/` placeholders.
  node: { __dirname: false, __filename: false },
  // A CLI reads its stack traces in terminals: keep names, skip the minifier's rewriting.
  optimization: { minimize: false },
  devtool: false,
  performance: { hints: false },
  stats: 'errors-warnings',
};
