import { startWebview, type VsCodeApi } from './start';

/** The API VS Code gives a webview's script, once. */
declare function acquireVsCodeApi(): VsCodeApi;

startWebview(acquireVsCodeApi());
