// The VS Code extension's bundles, from tsc's output (`tsc -b` first; webpack compiles no TypeScript):
// - out/extension.js: the extension host's code (CommonJS, Node). `vscode` is the host's own module;
//   zeromq is native, so it stays a package that scripts/stage.mjs copies beside the bundle.
// - media/webview.js: the webviews' app; media/renderer.js: the notebook renderer (an ES module, as
//   VS Code loads renderers). One file each: the webviews' CSP lets only the nonce-carrying script run,
//   and webpack's chunk loader would add scripts without it.
const path = require('node:path');
const webpack = require('webpack');

const lib = (...parts) => path.resolve(__dirname, 'lib', 'web', ...parts);
const oneFile = new webpack.optimize.LimitChunkCountPlugin({ maxChunks: 1 });
const browser = {
  mode: 'production',
  target: 'web',
  devtool: false,
  // plotly.js and the other large parts come minified already; minifying them again took minutes.
  optimization: { minimize: false },
  performance: { hints: false },
  resolve: { fallback: { crypto: false, fs: false, path: false } },
  plugins: [oneFile, new webpack.DefinePlugin({ 'process.env.NODE_ENV': JSON.stringify('production') })],
};

module.exports = [
  {
    name: 'extension',
    mode: 'production',
    target: 'node20',
    devtool: false,
    entry: { extension: path.resolve(__dirname, 'dist', 'extension.js') },
    output: { path: path.resolve(__dirname, 'out'), filename: '[name].js', library: { type: 'commonjs2' }, clean: { keep: /^node_modules\// } },
    externals: { vscode: 'commonjs vscode', zeromq: 'commonjs zeromq' },
    optimization: { minimize: false },
    performance: { hints: false },
  },
  {
    ...browser,
    name: 'webview',
    entry: { webview: lib('webview', 'main.js') },
    output: { path: path.resolve(__dirname, 'media'), filename: '[name].js', clean: false },
  },
  {
    ...browser,
    name: 'renderer',
    entry: { renderer: lib('renderer', 'main.js') },
    experiments: { outputModule: true },
    output: { path: path.resolve(__dirname, 'media'), filename: '[name].js', library: { type: 'module' }, module: true, clean: false },
  },
];
