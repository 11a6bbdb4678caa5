import {
  SchemaValidator,
  type BridgeReply,
  type BridgeRequest,
  type InventoryArgs,
  type InventoryResult,
  type PushFrameArgs,
  type PushFrameResult,
  type SchemaName,
} from '@opsbook/schema';
import { KernelBridgeError } from './errors';
import { pythonStringLiteral } from './python';
import type { CallOptions, KernelTransport, UserExpressionResult } from './transport';

export const BRIDGE_PROTOCOL = 'opsbook.bridge/1';
export const BRIDGE_MIMETYPE = 'application/vnd.opsbook.bridge+json';

/** The request types the kernel answers (bridge.schema.json#/$defs/BridgeRequestType). */
export type BridgeRequestType = BridgeRequest['type'];

/**
 * Request type -> [args, result]. Extending `Record<BridgeRequestType, …>` makes the compiler insist
 * on an entry for every type the schema lists.
 */
export interface BridgeRequestMap extends Record<BridgeRequestType, [unknown, unknown]> {
  inventory: [InventoryArgs, InventoryResult];
  push_frame: [PushFrameArgs, PushFrameResult];
}

type SchemaRef = `${SchemaName}#${string}`;

const SCHEMAS: { [T in BridgeRequestType]: { args: SchemaRef; result: SchemaRef } } = {
  inventory: { args: 'bridge.schema.json#/$defs/InventoryArgs', result: 'bridge.schema.json#/$defs/InventoryResult' },
  push_frame: { args: 'bridge.schema.json#/$defs/PushFrameArgs', result: 'bridge.schema.json#/$defs/PushFrameResult' },
};

const EXPRESSION = 'opsbook';
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * A random request id. `crypto.getRandomValues`, unlike `randomUUID`, exists in browser pages
 * served over plain http (a remote JupyterLab), as well as in Node.
 */
function randomId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** The user expression that asks the kernel's `opsbook` package to answer a request. */
export function bridgeExpression(requestJson: string): string {
  return `__import__('opsbook.bridge').bridge.handle(${pythonStringLiteral(requestJson)})`;
}

/** Options of {@link KernelBridge}. */
export interface KernelBridgeOptions {
  /** The validator of replies (default: the process's shared one, which compiles each schema once). */
  validator?: SchemaValidator;
  /** Milliseconds to wait for a reply (default 30 s). */
  timeoutMs?: number;
}

/**
 * Typed requests into a running kernel, answered by its `opsbook` package
 * (docs/ARCHITECTURE.md, "Kernel bridge wire format").
 */
export class KernelBridge {
  private readonly validator: SchemaValidator;
  private readonly timeoutMs: number;

  constructor(
    readonly transport: KernelTransport,
    options: KernelBridgeOptions = {},
  ) {
    this.validator = options.validator ?? SchemaValidator.shared();
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /**
   * Sends one request and returns its validated result.
   * @throws KernelBridgeError `bad_request` (args do not match the schema, or the kernel said so),
   *   `not_installed` (the kernel cannot import opsbook), `kernel_error`, `timeout`, `bad_reply`
   *   (the reply does not match the schema or the request), `unknown_type` or `internal`.
   */
  async request<T extends BridgeRequestType>(
    type: T,
    args: BridgeRequestMap[T][0],
    options: CallOptions = {},
  ): Promise<BridgeRequestMap[T][1]> {
    const schemas = SCHEMAS[type];
    const argsIssue = this.validator.check(schemas.args, args);
    if (argsIssue) throw new KernelBridgeError('bad_request', `${type} args ${argsIssue.message}`);
    const request: BridgeRequest = { protocol: BRIDGE_PROTOCOL, id: randomId(), type, args: args as BridgeRequest['args'] };

    const evaluated = await this.transport.evaluate(
      { [EXPRESSION]: bridgeExpression(JSON.stringify(request)) },
      { timeoutMs: options.timeoutMs ?? this.timeoutMs },
    );
    const reply = this.decode(request, evaluated[EXPRESSION]);
    if (!reply.ok) {
      const error = reply.error ?? { code: 'internal', message: 'reply without error' };
      throw new KernelBridgeError(error.code, `${type}: ${error.message}`);
    }
    const resultIssue = this.validator.check(schemas.result, reply.result);
    if (resultIssue) throw new KernelBridgeError('bad_reply', `${type} result ${resultIssue.message}`);
    return reply.result as BridgeRequestMap[T][1];
  }

  /** Shorthand for `request('inventory', args)`. @throws KernelBridgeError as {@link request}. */
  inventory(args: InventoryArgs = {}, options?: CallOptions): Promise<InventoryResult> {
    return this.request('inventory', args, options);
  }

  private decode(request: BridgeRequest, evaluated: UserExpressionResult | undefined): BridgeReply {
    if (!evaluated) throw new KernelBridgeError('bad_reply', 'the kernel did not evaluate the bridge expression');
    if (evaluated.status === 'error') {
      const missing =
        (evaluated.ename === 'ModuleNotFoundError' || evaluated.ename === 'ImportError') && /opsbook/.test(evaluated.evalue);
      if (missing) {
        throw new KernelBridgeError('not_installed', `the kernel cannot import opsbook (${evaluated.ename}: ${evaluated.evalue}); install it in the kernel's environment: pip install opsbook`);
      }
      throw new KernelBridgeError('kernel_error', `${evaluated.ename}: ${evaluated.evalue}`);
    }
    let reply = evaluated.data[BRIDGE_MIMETYPE];
    if (reply === undefined) {
      throw new KernelBridgeError('bad_reply', `the kernel's opsbook replied without ${BRIDGE_MIMETYPE} (an older opsbook?)`);
    }
    if (typeof reply === 'string') {
      try {
        reply = JSON.parse(reply) as unknown;
      } catch {
        throw new KernelBridgeError('bad_reply', 'the reply is not JSON');
      }
    }
    const issue = this.validator.check('bridge.schema.json#/$defs/BridgeReply', reply);
    if (issue) throw new KernelBridgeError('bad_reply', `reply ${issue.message}`);
    const valid = reply as BridgeReply;
    if (valid.id !== request.id) {
      throw new KernelBridgeError('bad_reply', `reply id ${JSON.stringify(valid.id)} does not match request id ${JSON.stringify(request.id)}`);
    }
    return valid;
  }
}
