import type * as ClientNode from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

export type K8s = typeof ClientNode;

/**
 * @kubernetes/client-node, an ES module, loaded from this CommonJS code with require: webpack inlines
 * it into the bundle, Node (20.19 and later) requires ES modules natively, and under Jest
 * jest.config.js compiles it to CommonJS. TypeScript takes only its types, through an import-mode type
 * import (a value import would be TS1479 in CommonJS output).
 */
let loaded: K8s | undefined;

/**
 * The module, loaded on first use: it takes seconds to load on a busy machine, and the daemon must
 * announce itself quickly whether or not anyone deploys.
 */
export function k8s(): K8s {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('@kubernetes/client-node') as K8s;
  return loaded;
}
