/**
 * @jest-environment jsdom
 */
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import type { Artifact } from '@opsbook/schema';
import { ArtifactsList, parseCsv, previewKind, type PlotlyApi } from './index';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const RUN = '11111111-1111-4111-8111-111111111111';

function artifact(name: string, media_type: string, size = 10, kind: Artifact['kind'] = 'file'): Artifact {
  return { run_id: RUN, name, size, sha256: 'a'.repeat(64), media_type, kind, created_at: '2025-06-01T12:00:00Z' };
}

const FILES: Record<string, Blob> = {
  'data/table.csv': new Blob(['a,b\n1,"x, y"\n2,z\n'], { type: 'text/csv' }),
  'config.json': new Blob(['{"lr":0.1,"layers":[1,2]}'], { type: 'application/json' }),
  'figures/loss.png': new Blob([new Uint8Array([137, 80, 78, 71])], { type: 'image/png' }),
  'figures/chart.plotly.json': new Blob(['{"data":[{"type":"scatter","x":[1,2],"y":[3,4]}],"layout":{"title":"t"}}'], { type: 'application/vnd.plotly.v1+json' }),
  'page.html': new Blob(['<script>alert(1)</script>'], { type: 'text/html' }),
};
const LIST = [
  artifact('config.json', 'application/json'),
  artifact('data/table.csv', 'text/csv'),
  artifact('figures/chart.plotly.json', 'application/vnd.plotly.v1+json', 80, 'figure'),
  artifact('figures/loss.png', 'image/png', 4, 'figure'),
  artifact('page.html', 'text/html'),
];

class RecordingPlotly implements PlotlyApi {
  readonly drawn: object[][] = [];
  react(_element: HTMLElement, data: object[]): Promise<unknown> {
    this.drawn.push(data);
    return Promise.resolve();
  }
  purge(): void {}
  Plots = { resize: (): void => undefined };
}

let container: HTMLDivElement;
let root: Root;
const loaded: string[] = [];
const load = (a: Artifact): Promise<Blob> => {
  loaded.push(a.name);
  return Promise.resolve(FILES[a.name]);
};

beforeAll(() => {
  // jsdom has no object URLs; the views only hand them to <img> and <a download>.
  URL.createObjectURL = (blob: Blob) => `blob:test/${blob.type}`;
  URL.revokeObjectURL = () => undefined;
});
beforeEach(() => {
  loaded.length = 0;
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});
afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

async function click(element: Element | null): Promise<void> {
  expect(element).not.toBeNull();
  act(() => (element as HTMLElement).click());
  // Reading a blob takes a macrotask or two in jsdom: wait until the preview has loaded.
  for (let i = 0; i < 100 && container.textContent?.includes('Loading preview'); i += 1) {
    await act(() => new Promise((resolve) => setTimeout(resolve, 10)));
  }
}

function row(name: string): Element | null {
  return container.querySelector(`tr[data-artifact="${name}"] button.opsbook-link`);
}

describe('ArtifactsList', () => {
  it('lists artifacts and reads nothing until one is chosen', () => {
    act(() => root.render(<ArtifactsList artifacts={LIST} loadContent={load} />));
    const names = Array.from(container.querySelectorAll('tbody tr')).map((tr) => tr.getAttribute('data-artifact'));
    expect(names).toEqual(LIST.map((a) => a.name));
    expect(container.textContent).toContain('4 B');
    expect(loaded).toEqual([]);
  });

  it('previews CSV as a table, JSON pretty-printed, an image through an object URL and plotly as a chart', async () => {
    const plotly = new RecordingPlotly();
    act(() => root.render(<ArtifactsList artifacts={LIST} loadContent={load} plotly={() => Promise.resolve(plotly)} />));
    await click(row('data/table.csv'));
    const cells = Array.from(container.querySelectorAll('[data-preview="csv"] td')).map((td) => td.textContent);
    expect(cells).toEqual(['1', 'x, y', '2', 'z']);
    await click(row('config.json'));
    expect(container.querySelector('[data-preview="json"] pre')?.textContent).toBe('{\n  "lr": 0.1,\n  "layers": [\n    1,\n    2\n  ]\n}');
    await click(row('figures/loss.png'));
    expect(container.querySelector('[data-preview="image"] img')?.getAttribute('src')).toBe('blob:test/image/png');
    await click(row('figures/chart.plotly.json'));
    expect(plotly.drawn).toEqual([[{ type: 'scatter', x: [1, 2], y: [3, 4] }]]);
  });

  it('never renders HTML: it is offered for download only', async () => {
    act(() => root.render(<ArtifactsList artifacts={LIST} loadContent={load} />));
    await click(row('page.html'));
    expect(container.querySelector('[data-preview="none"]')?.textContent).toContain('No preview for text/html');
    expect(container.querySelector('script')).toBeNull();
    expect(loaded).toEqual([]);
  });

  it('shows an empty list, loading and errors in words', () => {
    act(() => root.render(<ArtifactsList artifacts={[]} loadContent={load} />));
    expect(container.textContent).toBe('No artifacts logged.');
    act(() => root.render(<ArtifactsList loadContent={load} error="HTTP 500" />));
    expect(container.querySelector('[role="alert"]')?.textContent).toBe('Could not list the artifacts: HTTP 500');
  });

  it('chooses previews by media type and parses quoted CSV', () => {
    expect(previewKind(artifact('a.svg', 'image/svg+xml'))).toBe('image');
    expect(previewKind(artifact('a.txt', 'text/plain', 10 * 1024 * 1024))).toBe('none');
    expect(previewKind(artifact('m.onnx', 'application/octet-stream'))).toBe('none');
    expect(parseCsv('a,"b ""q"""\r\n1,"2\n3"')).toEqual([['a', 'b "q"'], ['1', '2\n3']]);
  });
});
