import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { CheckResult, DataSource, DeployProgress } from '@opsbook/schema';
import type { DeployEnvironment } from '../deploy';
import { parseSuiteText } from '../quality';
import { BadInputError } from '../store/errors';
import type { Store } from '../store/store';
import type { ArtifactStore } from '../tracking/artifacts';
import type { ModelRegistry } from '../tracking/registry';
import type { QualityJobs } from './quality-jobs';

/**
 * Where the deploy capability meets the others: models through the registry, the gate's suite run by
 * the quality jobs, results recorded before found among the runs' `quality/<suite>.json` artifacts, and
 * each applied deployment written onto its model's run as `deployments/<namespace>/<name>.json`.
 */
export function deployEnvironment(
  workspace: string,
  store: Store,
  registry: ModelRegistry,
  artifacts: ArtifactStore,
  quality: QualityJobs,
  progress: (event: DeployProgress) => void,
  log: (line: string) => void = () => undefined,
): DeployEnvironment {
  return {
    resolveModel: (ref) => registry.resolve(ref),
    async recordedResults(suiteName, fingerprintHash) {
      const rows = await store.read((db) =>
        db.all('SELECT run_id, name FROM artifacts WHERE name = $1 ORDER BY created_ms DESC', [`quality/${suiteName}.json`]),
      );
      const found: CheckResult[] = [];
      for (const row of rows) {
        const path = await artifacts.pathOf(String(row.run_id), String(row.name)).catch(() => null);
        if (!path) continue;
        let result: CheckResult;
        try {
          result = JSON.parse(await readFile(path, 'utf8')) as CheckResult;
        } catch {
          continue;
        }
        if (result.data?.fingerprint?.hash === fingerprintHash) found.push({ ...result, run_id: String(row.run_id) });
      }
      return found;
    },
    async loadSuite(path) {
      const file = isAbsolute(path) ? path : resolve(workspace, path);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new BadInputError('gate.suite', path, `suite ${JSON.stringify(path)}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
      }
      const suite = parseSuiteText(text, basename(file));
      return {
        name: suite.suite,
        run: (data: DataSource) => quality.check({ data, suite, suite_dir: dirname(file) }),
      };
    },
    progress,
    async recordOnRun(runId, deployment) {
      const bytes = Buffer.from(JSON.stringify(deployment), 'utf8');
      try {
        await artifacts.upload(runId, { name: `deployments/${deployment.namespace}/${deployment.name}.json`, kind: 'file', mediaType: 'application/json', declaredBytes: bytes.length }, Readable.from([bytes]));
      } catch (error) {
        // The run may have been deleted since: the deployment stands, the daemon log says why it is not on the run.
        log(`opsbook daemon: could not record deployment ${deployment.name} on run ${runId}: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
  };
}
