import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SchemaValidator } from '@opsbook/schema';
import { startDaemon, type RunningDaemon } from '../daemon/daemon';
import { Store } from '../store/store';
import { ArtifactStore, ArtifactTooLargeError, canonicalArtifactName, contentHeadersFor } from './artifacts';
import { RunStore } from './run-store';

const validator = new SchemaValidator();

interface Answer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One raw request: the path and query go out exactly as written, so encoded tricks reach the daemon. */
function send(daemon: RunningDaemon, method: string, path: string, body?: Buffer, contentType = 'application/octet-stream'): Promise<Answer> {
  const headers: Record<string, string> = { Host: `127.0.0.1:${daemon.info.port}`, Authorization: `Bearer ${daemon.token}` };
  if (body !== undefined) {
    headers['Content-Type'] = contentType;
    headers['Content-Length'] = String(body.length);
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: daemon.info.port, method, path: `/api/v1${path}`, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/**
 * Names that try to leave the run's folder, each as the query text sent on the wire. Where the text
 * is not itself URL-safe it is sent encoded too (see `wireForms`).
 */
const TRAVERSAL_CORPUS = [
  '../x',
  '..%2fx',
  '..%2Fcanary.txt',
  '%2e%2e%2f',
  '%2e%2e%2fcanary.txt',
  '%2e%2e/',
  '..\\x',
  '..%5ccanary.txt',
  '/etc/passwd',
  '%2fetc%2fpasswd',
  'C:\\x',
  'C:%5cx',
  'a/../../x',
  'a/./b',
  '..;/x',
  '.',
  '..',
  'a//b',
  'a/',
  '%00',
  'x%00.png',
  'a\u0000b',
  '\u2024\u2024/x',
  '\uff0e\uff0e/x',
  '\u2215etc\u2215passwd',
  'a\u2044..\u2044x',
  'e\u0301',
  '%c0%ae%c0%ae/x',
  '~/x',
  'a\nb',
  ' x',
  'x'.repeat(300),
  `${'a/'.repeat(600)}x`,
];

function shorten(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}… (${text.length} characters)` : text;
}

function wireForms(entry: string): string[] {
  const encoded = encodeURIComponent(entry);
  // Sent as written only when it is already a legal query text (the corpus' own %-escapes).
  const asWritten = /^[\x21-\x7e]*$/.test(entry) && !entry.includes('#') && !entry.includes('&') ? [entry] : [];
  return [...new Set([...asWritten, encoded])];
}

describe('artifacts through a real daemon', () => {
  let workspace: string;
  let runtime: string;
  let outside: string;
  let daemon: RunningDaemon;
  let runId: string;
  const CANARY = `canary-${randomUUID()}`;
  const answers: string[] = [];

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-artifacts-'));
    runtime = mkdtempSync(join(tmpdir(), 'opsbook-artifacts-runtime-'));
    outside = mkdtempSync(join(tmpdir(), 'opsbook-artifacts-outside-'));
    writeFileSync(join(outside, 'canary.txt'), CANARY);
    // Canaries next to the run folders too, one and two levels up from a run's root.
    daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, validateResponses: true, log: () => undefined });
    writeFileSync(join(workspace, '.opsbook', 'artifacts', 'canary.txt'), CANARY);
    writeFileSync(join(workspace, 'canary.txt'), CANARY);
    writeFileSync(join(workspace, 'x'), CANARY);
    const created = await send(daemon, 'POST', '/runs', Buffer.from('{"experiment":"artifacts"}'), 'application/json');
    runId = (JSON.parse(created.text) as { id: string }).id;
  });
  afterAll(async () => {
    await daemon?.close();
    for (const dir of [workspace, runtime, outside]) rmSync(dir, { recursive: true, force: true });
    // Every answer of the suite, success or error, is free of the canary.
    expect(answers.filter((text) => text.includes(CANARY))).toEqual([]);
  });

  async function call(method: string, path: string, body?: Buffer): Promise<Answer> {
    const answer = await send(daemon, method, path, body);
    answers.push(answer.text, JSON.stringify(answer.headers));
    return answer;
  }

  it('stores bytes under a canonical name, hashed, and serves them back with their type', async () => {
    const bytes = Buffer.from('a,b\n1,2\n');
    const stored = await call('PUT', `/runs/${runId}/artifacts?name=${encodeURIComponent('data/table one.csv')}`, bytes);
    expect(stored.status).toBe(200);
    const artifact = JSON.parse(stored.text) as Record<string, unknown>;
    expect(validator.check('artifact.schema.json', artifact)).toBeNull();
    expect(artifact).toMatchObject({
      run_id: runId,
      name: 'data/table one.csv',
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      media_type: 'text/csv',
      kind: 'file',
    });
    expect(readFileSync(join(workspace, '.opsbook', 'artifacts', runId, 'data', 'table one.csv'))).toEqual(bytes);

    const content = await call('GET', `/runs/${runId}/artifacts/content?name=${encodeURIComponent('data/table one.csv')}`);
    expect(content.status).toBe(200);
    expect(content.text).toBe(bytes.toString());
    expect(content.headers['content-type']).toBe('text/csv');
    expect(content.headers['x-content-type-options']).toBe('nosniff');
    expect(content.headers['content-security-policy']).toContain('sandbox');
    expect(content.headers['content-disposition']).toMatch(/^inline; /);

    const list = await call('GET', `/runs/${runId}/artifacts`);
    expect(validator.check('artifact-list.schema.json', JSON.parse(list.text))).toBeNull();
    expect((JSON.parse(list.text) as { artifacts: { name: string }[] }).artifacts.map((a) => a.name)).toEqual(['data/table one.csv']);
  });

  it('replaces an artifact stored again under the same name', async () => {
    await call('PUT', `/runs/${runId}/artifacts?name=again.txt`, Buffer.from('one'));
    const second = await call('PUT', `/runs/${runId}/artifacts?name=again.txt&kind=figure&media_type=text%2Fplain`, Buffer.from('two!'));
    expect(JSON.parse(second.text)).toMatchObject({ size: 4, kind: 'figure', media_type: 'text/plain' });
    expect((await call('GET', `/runs/${runId}/artifacts/content?name=again.txt`)).text).toBe('two!');
  });

  it('serves HTML and SVG as sandboxed attachments, never inline', async () => {
    for (const name of ['page.html', 'drawing.svg']) {
      await call('PUT', `/runs/${runId}/artifacts?name=${name}`, Buffer.from('<svg onload="alert(1)"><script>alert(1)</script></svg>'));
      const content = await call('GET', `/runs/${runId}/artifacts/content?name=${name}`);
      expect(content.status).toBe(200);
      expect(content.headers['content-disposition']).toMatch(/^attachment; filename\*=UTF-8''/);
      expect(content.headers['content-security-policy']).toBe("sandbox; default-src 'none'");
      expect(content.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it.each(TRAVERSAL_CORPUS.flatMap((entry) => wireForms(entry).map((wire) => [shorten(JSON.stringify(entry)), shorten(wire), wire] as const)))(
    'refuses the name %s (sent as %s) with a 400 naming the field, on upload and on read',
    async (_entry, _shown, wire) => {
      for (const [method, path, body] of [
        ['PUT', `/runs/${runId}/artifacts?name=${wire}`, Buffer.from('payload')],
        ['GET', `/runs/${runId}/artifacts/content?name=${wire}`, undefined],
      ] as const) {
        const answer = await call(method, path, body);
        expect({ method, status: answer.status }).toEqual({ method, status: 400 });
        const error = (JSON.parse(answer.text) as { error: { field: string; code: string } }).error;
        expect(error).toMatchObject({ code: 'bad_request', field: 'name' });
      }
    },
  );

  it('writes nothing outside the run folder while refusing names', () => {
    expect(readdirSync(join(workspace, '.opsbook', 'artifacts', runId)).sort()).toEqual(['again.txt', 'data', 'drawing.svg', 'page.html']);
    expect(readdirSync(outside)).toEqual(['canary.txt']);
    expect(existsSync(join(workspace, '.opsbook', 'x'))).toBe(false);
    expect(readFileSync(join(workspace, 'x'), 'utf8')).toBe(CANARY);
  });

  it('refuses a symlink planted inside the run folder, for a folder or a file, on read and on write', async () => {
    const root = join(workspace, '.opsbook', 'artifacts', runId);
    symlinkSync(outside, join(root, 'escape'));
    await call('PUT', `/runs/${runId}/artifacts?name=linked.txt`, Buffer.from('fine'));
    unlinkSync(join(root, 'linked.txt'));
    symlinkSync(join(outside, 'canary.txt'), join(root, 'linked.txt'));
    for (const [method, name] of [
      ['GET', 'escape/canary.txt'],
      ['PUT', 'escape/canary.txt'],
      ['PUT', 'escape/new.txt'],
      ['GET', 'linked.txt'],
    ] as const) {
      const answer = await call(method, `/runs/${runId}/artifacts${method === 'GET' ? '/content' : ''}?name=${encodeURIComponent(name)}`, method === 'PUT' ? Buffer.from('overwrite') : undefined);
      expect({ method, name, status: answer.status }).toEqual({ method, name, status: 400 });
      expect(JSON.parse(answer.text)).toMatchObject({ error: { field: 'name' } });
    }
    expect(readFileSync(join(outside, 'canary.txt'), 'utf8')).toBe(CANARY);
    expect(readdirSync(outside)).toEqual(['canary.txt']);
  });

  it('answers 404 for an unknown run or artifact, and 415 for a JSON body', async () => {
    expect((await call('GET', `/runs/${randomUUID()}/artifacts`)).status).toBe(404);
    expect((await call('PUT', `/runs/${randomUUID()}/artifacts?name=a.txt`, Buffer.from('x'))).status).toBe(404);
    const missing = await call('GET', `/runs/${runId}/artifacts/content?name=missing.txt`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text)).toMatchObject({ error: { field: 'name', value: 'missing.txt' } });
    const json = await send(daemon, 'PUT', `/runs/${runId}/artifacts?name=a.txt`, Buffer.from('{}'), 'application/json');
    expect(json.status).toBe(415);
    const badKind = await call('PUT', `/runs/${runId}/artifacts?name=a.txt&kind=exe`, Buffer.from('x'));
    expect(JSON.parse(badKind.text)).toMatchObject({ error: { field: 'kind' } });
  });
});

describe('an upload over the daemon\'s limit', () => {
  it('is answered 413 while it streams, and nothing of it is kept', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'opsbook-artifacts-limit-'));
    const runtime = mkdtempSync(join(tmpdir(), 'opsbook-artifacts-limit-runtime-'));
    const daemon = await startDaemon({ workspace, port: 0, runtimeDir: runtime, maxArtifactBytes: 1000, log: () => undefined });
    try {
      const created = await send(daemon, 'POST', '/runs', Buffer.from('{}'), 'application/json');
      const runId = (JSON.parse(created.text) as { id: string }).id;
      const declared = await send(daemon, 'PUT', `/runs/${runId}/artifacts?name=big.bin`, Buffer.alloc(2000));
      expect(declared.status).toBe(413);
      // Chunked: no length to refuse up front, so the limit is found while the bytes stream.
      const streamed = await new Promise<Answer>((resolve, reject) => {
        const headers = {
          Host: `127.0.0.1:${daemon.info.port}`,
          Authorization: `Bearer ${daemon.token}`,
          'Content-Type': 'application/octet-stream',
          'Transfer-Encoding': 'chunked',
        };
        const req = request({ host: '127.0.0.1', port: daemon.info.port, method: 'PUT', path: `/api/v1/runs/${runId}/artifacts?name=big.bin`, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
        });
        req.on('error', reject);
        req.write(Buffer.alloc(600));
        setTimeout(() => req.end(Buffer.alloc(600)), 50);
      });
      expect(streamed.status).toBe(413);
      expect(JSON.parse(streamed.text)).toMatchObject({ error: { code: 'payload_too_large', field: 'body' } });
      expect(existsSync(join(workspace, '.opsbook', 'artifacts', runId, 'big.bin'))).toBe(false);
      expect(readdirSync(join(workspace, '.opsbook', 'artifacts', '.incoming'))).toEqual([]);
    } finally {
      await daemon.close();
      rmSync(workspace, { recursive: true, force: true });
      rmSync(runtime, { recursive: true, force: true });
    }
  });
});

describe('ArtifactStore', () => {
  let workspace: string;
  let store: Store;
  let runId: string;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'opsbook-artifact-store-'));
    store = await Store.open(workspace);
    runId = (await new RunStore(store).createRun({})).id;
  });
  afterAll(async () => {
    await store.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('refuses a body over the limit while streaming it, and keeps nothing of it', async () => {
    const artifacts = new ArtifactStore(store, { maxBytes: 1000 });
    const body = Readable.from([Buffer.alloc(600), Buffer.alloc(600)]);
    await expect(artifacts.upload(runId, { name: 'big.bin' }, body)).rejects.toBeInstanceOf(ArtifactTooLargeError);
    await expect(artifacts.upload(runId, { name: 'big.bin', declaredBytes: 5000 }, Readable.from([]))).rejects.toBeInstanceOf(ArtifactTooLargeError);
    expect((await artifacts.list(runId)).artifacts).toEqual([]);
    expect(readdirSync(join(store.artifactsDir, '.incoming'))).toEqual([]);
    const fits = await artifacts.upload(runId, { name: 'ok.bin' }, Readable.from([Buffer.alloc(1000)]));
    expect(fits.size).toBe(1000);
  });

  it('refuses a name that runs through a file', async () => {
    const artifacts = new ArtifactStore(store);
    mkdirSync(join(store.artifactsDir, runId), { recursive: true });
    await artifacts.upload(runId, { name: 'plain' }, Readable.from([Buffer.from('x')]));
    await expect(artifacts.upload(runId, { name: 'plain/inside' }, Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ field: 'name' });
  });

  it('keeps names canonical and headers safe', () => {
    expect(canonicalArtifactName('a/b c/d.txt')).toBe('a/b c/d.txt');
    expect(() => canonicalArtifactName('a/../b')).toThrow(/'\.\.' segment/);
    expect(contentHeadersFor({ name: 'x/p.png', media_type: 'image/png' })['Content-Disposition']).toBe("inline; filename*=UTF-8''p.png");
    expect(contentHeadersFor({ name: 'x/p', media_type: 'application/xhtml+xml' })['Content-Disposition']).toMatch(/^attachment/);
  });
});
