import { createRequire } from 'node:module';
import type * as ClientNode from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

export type K8s = typeof ClientNode;

declare const __webpack_require__: unknown;

/**
 * @kubernetes/client-node, an ES module, loaded from this CommonJS code: the bundle (webpack) inlines
 * it through a plain require; unbundled (tsc's output, jest) Node's own require loads it, which takes
 * ES modules since Node 20.19 — jest's module registry would not, so its require is bypassed.
 */
function load(): K8s {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the one require webpack must see to bundle it
  if (typeof __webpack_require__ === 'function') return require('@kubernetes/client-node') as K8s;
  return createRequire(__filename)('@kubernetes/client-node') as K8s;
}

export const k8s: K8s = load();
