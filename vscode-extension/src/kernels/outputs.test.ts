import * as vscode from 'vscode';
import { toCellOutput } from './outputs';

const text = (item: vscode.NotebookCellOutputItem): string => new TextDecoder().decode(item.data);

describe('nbformat outputs as notebook cell outputs', () => {
  it('maps streams to stdout and stderr items', () => {
    const out = toCellOutput({ output_type: 'stream', name: 'stdout', text: 'hello\n' });
    const err = toCellOutput({ output_type: 'stream', name: 'stderr', text: 'oops\n' });

    expect(out.items.map((item) => [item.mime, text(item)])).toEqual([['application/vnd.code.notebook.stdout', 'hello\n']]);
    expect(err.items.map((item) => [item.mime, text(item)])).toEqual([['application/vnd.code.notebook.stderr', 'oops\n']]);
  });

  it('maps an error to an error item carrying name, message and traceback', () => {
    const output = toCellOutput({ output_type: 'error', ename: 'ValueError', evalue: 'bad', traceback: ['line 1', 'line 2'] });

    expect(output.items[0].mime).toBe('application/vnd.code.notebook.error');
    expect(JSON.parse(text(output.items[0]))).toEqual({ name: 'ValueError', message: 'bad', stack: 'line 1\nline 2' });
  });

  it('gives one item per mimetype: JSON as JSON, text as text, images base64-decoded, metadata kept', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]);
    const output = toCellOutput({
      output_type: 'execute_result',
      execution_count: 3,
      data: {
        'application/vnd.opsbook.run+json': { run_id: 'r', name: 'n' },
        'text/plain': 'Run n',
        'text/html': ['<b>', 'Run</b>'],
        'image/png': png.toString('base64'),
        'image/svg+xml': '<svg/>',
      },
      metadata: { 'image/png': { width: 10 } },
    });

    expect(output.items.map((item) => item.mime)).toEqual(['application/vnd.opsbook.run+json', 'text/plain', 'text/html', 'image/png', 'image/svg+xml']);
    expect(JSON.parse(text(output.items[0]))).toEqual({ run_id: 'r', name: 'n' });
    expect(text(output.items[1])).toBe('Run n');
    expect(text(output.items[2])).toBe('<b>Run</b>');
    expect(Buffer.from(output.items[3].data).equals(png)).toBe(true);
    expect(text(output.items[4])).toBe('<svg/>');
    expect(output.metadata).toEqual({ 'image/png': { width: 10 } });
  });
});
