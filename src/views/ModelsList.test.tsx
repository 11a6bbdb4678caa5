/**
 * @jest-environment jsdom
 */
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import type { ModelVersion, RegisteredModel } from '@opsbook/schema';
import { ModelsList } from './index';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const RUN = '22222222-2222-4222-8222-222222222222';

function version(n: number, figure: boolean, aliases: string[] = []): ModelVersion {
  return {
    name: 'churn',
    version: n,
    run_id: RUN,
    artifact: `models/churn/v${n}.onnx`,
    flavor: 'sklearn',
    signature: { inputs: [{ name: 'X', dtype: 'float32', shape: [null, 2] }], outputs: [], feature_names: ['age', 'income'], predict_method: 'predict_proba' },
    parity_max_abs_diff: 1.5e-7 * n,
    parity_figure: figure ? `models/churn/v${n}.parity.svg` : null,
    data_fingerprint: { rows: 20, columns: [], hash: `sha256:${'0'.repeat(64)}`, library: 'pandas' },
    aliases,
    created_at: '2025-06-01T11:00:00Z',
  };
}

const MODEL: RegisteredModel = {
  name: 'churn',
  description: '',
  created_at: '2025-06-01T10:00:00Z',
  latest_version: 2,
  aliases: { prod: 1 },
  versions: [version(2, true), version(1, false, ['prod'])],
};

let container: HTMLDivElement;
let root: Root;

beforeAll(() => {
  URL.createObjectURL = () => 'blob:test/figure';
  URL.revokeObjectURL = () => undefined;
});
beforeEach(() => {
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});
afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

const flush = (): Promise<void> => act(async () => new Promise((resolve) => setTimeout(resolve, 0)));

describe('ModelsList', () => {
  it('shows each model with its latest version, aliases, parity and parity figure, and opens the run', async () => {
    const figures: string[] = [];
    const opened: string[] = [];
    const loadFigure = (v: ModelVersion): Promise<Blob> => {
      figures.push(`${v.name}:${v.version}`);
      return Promise.resolve(new Blob(['<svg/>'], { type: 'image/svg+xml' }));
    };
    act(() => root.render(<ModelsList models={[MODEL]} loadFigure={loadFigure} onOpenRun={(id) => opened.push(id)} now={Date.parse('2025-06-01T12:00:00Z')} />));
    await flush();
    const card = container.querySelector('[data-model="churn"]')!;
    expect(card.querySelector('.opsbook-ModelsList-latest')?.textContent).toBe('v2');
    expect(card.querySelector('.opsbook-ModelsList-alias')?.textContent).toBe('@prod→1');
    expect(card.querySelector('.opsbook-ModelsList-parity')?.textContent).toBe('max |diff| 3.00e-7 (predict_proba)');
    expect(card.querySelector('img.opsbook-ModelsList-figure')?.getAttribute('alt')).toBe('Parity of churn v2: kernel vs onnxruntime');
    expect(figures).toEqual(['churn:2']);
    expect(card.textContent).toContain('age, income');

    const v1 = Array.from(card.querySelectorAll('.opsbook-ModelsList-versions button')).find((b) => b.textContent === 'v1') as HTMLElement;
    act(() => v1.click());
    expect(card.querySelector('[data-version]')?.getAttribute('data-version')).toBe('1');
    expect(card.querySelector('img')).toBeNull();
    act(() => (card.querySelector('dd button.opsbook-link') as HTMLElement).click());
    expect(opened).toEqual([RUN]);
  });

  it('says how to register a model when there is none, and shows errors', () => {
    act(() => root.render(<ModelsList models={[]} loadFigure={() => Promise.reject(new Error('no'))} />));
    expect(container.textContent).toContain('opsbook.log_model(model, "name", sample=X)');
    act(() => root.render(<ModelsList loadFigure={() => Promise.reject(new Error('no'))} error="daemon unavailable" />));
    expect(container.querySelector('[role="alert"]')?.textContent).toBe('Could not list the models: daemon unavailable');
  });
});
