import type { Kernel } from '@jupyterlab/services';
import { Signal, type ISignal } from '@lumino/signaling';
import { KernelBridge } from '@opsbook/kernel-bridge';
import { JupyterLabKernelTransport } from '@opsbook/kernel-bridge/jupyterlab';
import type { InventoryArgs, SchemaValidator, Variable } from '@opsbook/schema';
import { RepeatingTask } from './coalesce';
import { describeError } from './errors';

/** The kernel whose variables a panel offers: the current notebook's. */
export interface FrameKernel {
  /** The kernel, or null when no notebook (or no running kernel) is current. */
  readonly kernel: Kernel.IKernelConnection | null;
  /** Where the variables come from, as the user knows it: the notebook's name. */
  readonly label: string;
  /** Emitted when the current notebook or its kernel changes, or a cell of it ran. */
  readonly changed: ISignal<FrameKernel, void>;
}

/** A panel's listing of the kernel's variables: `Ready` holds what it picked from them. */
export type VariablesState<Ready extends object> =
  | { kind: 'no-kernel' }
  | { kind: 'loading'; label: string }
  | ({ kind: 'ready'; label: string } & Ready)
  | { kind: 'error'; label: string; message: string };

/**
 * The variables of the current notebook's kernel that a sidebar panel offers (the Data Quality
 * panel's dataframes; the Explain panel's dataframes and fitted models), listed through the bridge's
 * `inventory` (a listing asked for while one runs is followed by one more), and the bridge to that
 * kernel, made again when the kernel changes. A listing never rejects: it ends in `error` with why.
 */
export class KernelVariables<Ready extends object> {
  private current: VariablesState<Ready> = { kind: 'no-kernel' };
  private readonly signal = new Signal<KernelVariables<Ready>, VariablesState<Ready>>(this);
  private cached: { kernel: Kernel.IKernelConnection; bridge: KernelBridge } | null = null;
  private readonly listing: RepeatingTask;

  /**
   * @param kinds what `inventory` lists
   * @param pick what the panel keeps of the variables listed
   * @param stopped whether the owner was disposed (a listing asked for meanwhile is skipped)
   */
  constructor(
    private readonly kernels: FrameKernel,
    private readonly validator: SchemaValidator,
    private readonly kinds: NonNullable<InventoryArgs['kinds']>,
    private readonly pick: (variables: Variable[]) => Ready,
    stopped: () => boolean,
  ) {
    this.listing = new RepeatingTask(() => this.list(), stopped);
  }

  get state(): VariablesState<Ready> {
    return this.current;
  }

  get changed(): ISignal<KernelVariables<Ready>, VariablesState<Ready>> {
    return this.signal;
  }

  /** Lists the variables again. Never rejects. */
  refresh(): Promise<void> {
    return this.listing.run();
  }

  /** The bridge to the current kernel, or null when there is none. */
  bridge(): KernelBridge | null {
    const kernel = this.kernels.kernel;
    if (!kernel) return null;
    if (this.cached?.kernel !== kernel) {
      this.cached = { kernel, bridge: new KernelBridge(new JupyterLabKernelTransport(kernel), { validator: this.validator }) };
    }
    return this.cached.bridge;
  }

  /** @throws Error telling the user to open and start the notebook holding `what` when no kernel is current */
  requireBridge(what: string): KernelBridge {
    const bridge = this.bridge();
    if (!bridge) throw new Error(`no kernel: open the notebook that holds ${what}, and start its kernel`);
    return bridge;
  }

  private async list(): Promise<void> {
    const bridge = this.bridge();
    const label = this.kernels.label;
    if (!bridge) {
      this.set({ kind: 'no-kernel' });
      return;
    }
    if (this.current.kind !== 'ready' || this.current.label !== label) this.set({ kind: 'loading', label });
    try {
      const { variables } = await bridge.inventory({ kinds: this.kinds });
      this.set({ kind: 'ready', label, ...this.pick(variables) });
    } catch (reason) {
      this.set({ kind: 'error', label, message: describeError(reason) });
    }
  }

  private set(state: VariablesState<Ready>): void {
    if (JSON.stringify(state) === JSON.stringify(this.current)) return;
    this.current = state;
    this.signal.emit(state);
  }
}
