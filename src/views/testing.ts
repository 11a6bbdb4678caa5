import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';

/** A React root in a fresh container, per test, for the view tests of one file (jsdom). */
export interface TestRoot {
  /** The current test's container, attached to the document. */
  readonly container: HTMLDivElement;
  /** Renders into the container and lets effects and `settle` finish inside `act`. */
  render(element: JSX.Element): Promise<void>;
  /** Unmounts what is rendered (effects clean up) and leaves a fresh root in the same container. */
  unmount(): void;
}

/**
 * Registers `beforeEach`/`afterEach` that mount and unmount a root around each test of the calling
 * file. `settle` runs inside `act` after each render (default: one microtask).
 */
export function useTestRoot(settle: () => Promise<unknown> = () => Promise.resolve()): TestRoot {
  let container: HTMLDivElement | undefined;
  let root: Root | undefined;
  beforeEach(() => {
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
  });
  afterEach(() => {
    act(() => root?.unmount());
    container?.remove();
  });
  return {
    get container(): HTMLDivElement {
      if (!container) throw new Error('useTestRoot: no test is running');
      return container;
    },
    unmount(): void {
      act(() => root?.unmount());
      root = container && createRoot(container);
    },
    async render(element: JSX.Element): Promise<void> {
      await act(async () => {
        root?.render(element);
        await settle();
      });
    },
  };
}
