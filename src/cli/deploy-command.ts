import { randomUUID } from 'node:crypto';
import { basename, resolve } from 'node:path';
import type { DataSource, DeployPlan, DeployProgress, DeployRequest, DeployResult, Deployment, DeploymentActionResult, DeploymentList, GateOutcome, KubeObject, Rollout } from '@opsbook/schema';
import { stringify } from 'yaml';
import type { OpsbookClient } from '../client/client';
import { EventStreamParser } from '../client/events';
import { localModel } from './explain-command';
import { describedHandoff, resolveSource } from '../quality/source';
import type { ParsedCommand } from './args';
import { connectDaemon, fromApiError } from './daemon-client';
import { EnvironmentError, UsageError } from './errors';
import type { CliOutput } from './runs-command';
import { cliValidator } from './validator';
import { workspaceOf } from './workspace';

/** Exit 1: a gate refused the deployment, or the apply met a field another manager owns. */
const EXIT_REFUSED = 1;

/**
 * `opsbook deploy MODEL --name N --image IMG ...` and `deploy status|promote|rollback|delete`,
 * through the workspace's daemon (which holds the kubeconfig work, the gates and the records).
 * @returns 0 deployed (or planned); 1 refused by a gate or stopped by a conflict; 3 (thrown) no cluster,
 *   or the rollout failed or timed out.
 */
export async function deployCommand(parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const cwd = process.cwd();
  const workspace = workspaceOf(parsed.values.workspace as string | undefined, cwd);
  const json = parsed.values.json === true;
  if (parsed.command === 'deploy') {
    const request = await deployRequest(parsed, cwd, workspace);
    const client = await connectDaemon(workspace);
    return parsed.values['dry-run'] === true ? plan(client, request, parsed, out) : apply(client, request, parsed, out);
  }
  const client = await connectDaemon(workspace);
  const name = parsed.positionals.name as string | undefined;
  const namespace = parsed.values.namespace as string | undefined;
  try {
    if (parsed.command === 'deploy status') {
      if (name === undefined) {
        const list = await client.listDeployments({ live: true });
        out.stdout(json ? `${JSON.stringify(cliValidator().assert<DeploymentList>('deploy.schema.json', list))}\n` : formatList(list));
        return 0;
      }
      const deployment = await client.getDeployment(name, { namespace });
      out.stdout(json ? `${JSON.stringify(deployment)}\n` : formatDeployment(deployment));
      return deployment.live?.state === 'failed' ? 3 : 0;
    }
    if (parsed.command === 'deploy delete') {
      const result = await client.deleteDeployment(name!, { namespace });
      out.stdout(json ? `${JSON.stringify(result)}\n` : `Deleted ${result.deleted.length ? result.deleted.join(', ') : 'nothing (no object of it was left)'}\n`);
      return 0;
    }
    const body = { ...(namespace ? { namespace } : {}), ...waitOptions(parsed) };
    const jobId = `cli-${randomUUID()}`;
    const follow = parsed.values['no-wait'] === true ? null : followProgress(client, jobId, out);
    let result: DeploymentActionResult;
    try {
      result = parsed.command === 'deploy promote'
        ? await client.promoteDeployment(name!, { ...body, job_id: jobId })
        : await client.rollbackDeployment(name!, { ...body, job_id: jobId });
    } finally {
      follow?.stop();
    }
    out.stdout(json ? `${JSON.stringify(result)}\n` : `${result.message ?? `${result.action}d ${name}`}\n${result.rollout ? formatRollout(result.rollout) : ''}`);
    return rolloutExit(result.rollout);
  } catch (error) {
    throw fromApiError(error, 'name');
  }
}

function waitOptions(parsed: ParsedCommand): { wait?: boolean; timeout_s?: number } {
  return {
    ...(parsed.values['no-wait'] === true ? { wait: false } : {}),
    ...(parsed.values.timeout !== undefined ? { timeout_s: parsed.values.timeout as number } : {}),
  };
}

async function deployRequest(parsed: ParsedCommand, cwd: string, workspace: string): Promise<DeployRequest> {
  const v = parsed.values;
  const name = v.name as string | undefined;
  if (name === undefined) throw new UsageError('deploy needs --name N: the deployment\'s name (lowercase letters, digits and -)');
  const target = (v.target as DeployRequest['target']) ?? 'deployment';
  if (v.image === undefined && target === 'deployment') throw new UsageError('deploy needs --image IMG: the serving runtime image, best by digest (docs/deploy.md builds it)');
  if (v['gate-data'] !== undefined && v.gate === undefined) throw new UsageError('--gate-data needs --gate SUITE: the suite to run on that data');
  const gateData = v['gate-data'] === undefined ? undefined : await localSource(v['gate-data'] as string, cwd, workspace);
  const request: DeployRequest = {
    model: localModel(parsed.positionals.model as string, cwd),
    name,
    ...(v.image !== undefined ? { image: v.image as string } : {}),
    ...(v.namespace !== undefined ? { namespace: v.namespace as string } : {}),
    ...(v.replicas !== undefined ? { replicas: v.replicas as number } : {}),
    ...(v['max-replicas'] !== undefined ? { max_replicas: v['max-replicas'] as number } : {}),
    ...(v.gpu !== undefined ? { gpu: v.gpu as number } : {}),
    ...(v.cpu !== undefined ? { cpu: v.cpu as string } : {}),
    ...(v.memory !== undefined ? { memory: v.memory as string } : {}),
    ...(v.target !== undefined ? { target } : {}),
    ...(v.canary !== undefined ? { canary: v.canary as number } : {}),
    ...(v['model-url'] !== undefined ? { model_url: v['model-url'] as string } : {}),
    ...(v['model-pvc'] !== undefined ? { model_pvc: v['model-pvc'] as string } : {}),
    ...(v.gate !== undefined ? { gate: { suite: resolve(cwd, v.gate as string), ...(gateData ? { data: gateData } : {}) } } : {}),
    ...(v.force === true ? { force: true } : {}),
    ...(v['force-conflicts'] === true ? { force_conflicts: true } : {}),
    ...(v.context !== undefined ? { context: v.context as string } : {}),
    ...waitOptions(parsed),
  };
  // The schema's one-line message names the field (a bad name, quantity or percent) before any daemon starts.
  cliValidator().assert('deploy.schema.json#/$defs/DeployRequest', request);
  return request;
}

async function plan(client: OpsbookClient, request: DeployRequest, parsed: ParsedCommand, out: CliOutput): Promise<number> {
  let result: DeployPlan;
  try {
    result = await client.planDeployment(request);
  } catch (error) {
    throw fromApiError(error, 'model');
  }
  const output = parsed.values.output as 'yaml' | 'json' | undefined;
  if (output) out.stdout(formatManifests(result.manifests, output));
  else if (parsed.values.json === true) out.stdout(`${JSON.stringify(cliValidator().assert<DeployPlan>('deploy.schema.json', result))}\n`);
  else out.stdout(formatPlan(result));
  if (result.refused) {
    out.stderr(`opsbook: ${refusal(result.gates)}\n`);
    return EXIT_REFUSED;
  }
  return 0;
}

async function apply(client: OpsbookClient, request: DeployRequest, parsed: ParsedCommand, out: CliOutput): Promise<number> {
  const jobId = `cli-${randomUUID()}`;
  const follow = request.wait === false ? null : followProgress(client, jobId, out);
  let result: DeployResult;
  try {
    result = await client.applyDeployment({ ...request, job_id: jobId });
  } catch (error) {
    throw fromApiError(error, 'model');
  } finally {
    follow?.stop();
  }
  const output = parsed.values.output as 'yaml' | 'json' | undefined;
  if (parsed.values.json === true) out.stdout(`${JSON.stringify(cliValidator().assert<DeployResult>('deploy.schema.json', result))}\n`);
  else {
    if (output) out.stdout(formatManifests(result.plan.manifests, output));
    out.stdout(formatResult(result));
  }
  if (result.status === 'refused') {
    out.stderr(`opsbook: ${refusal(result.plan.gates)}\n`);
    return EXIT_REFUSED;
  }
  if (result.status === 'conflict') {
    const conflicts = (result.plan.changes ?? []).filter((c) => c.action === 'conflict');
    out.stderr(`opsbook: not applied: ${conflicts.map((c) => `${c.kind}/${c.name} ${(c.conflicts ?? []).map((f) => `${f.field} is owned by ${f.manager}`).join(', ')}`).join('; ')}; resolve it, or take the fields with --force-conflicts\n`);
    return EXIT_REFUSED;
  }
  return rolloutExit(result.rollout);
}

function rolloutExit(rollout: Rollout | null): number {
  if (!rollout || rollout.state === 'available' || rollout.state === 'not_watched') return 0;
  throw new EnvironmentError(`rollout ${rollout.state === 'timed_out' ? 'timed out' : 'failed'}: ${rollout.message ?? ''}${rollout.events.length ? ` (${rollout.events[0].reason}: ${rollout.events[0].message})` : ''}`);
}

function refusal(gates: GateOutcome[]): string {
  const failing = gates.filter((gate) => gate.status === 'fail');
  return `deployment refused by ${failing.length === 1 ? 'a gate' : `${failing.length} gates`}: ${failing
    .map((gate) => `${gate.gate}${gate.failing_checks?.length ? ` [${gate.failing_checks.join(', ')}]` : ''}: ${gate.message}`)
    .join('; ')} (--force deploys anyway and records it)`;
}

/** Prints the progress of the job on stderr, one line per change, until stopped. */
function followProgress(client: OpsbookClient, jobId: string, out: CliOutput): { stop(): void } {
  const controller = new AbortController();
  let last = '';
  void (async () => {
    try {
      const reader = (await client.openEventStream(controller.signal)).getReader();
      const decoder = new TextDecoder();
      const parser = new EventStreamParser();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        for (const message of parser.push(decoder.decode(value, { stream: true }))) {
          if (message.event !== 'deploy') continue;
          const progress = JSON.parse(message.data) as DeployProgress;
          // Gates and failures are in the answer, printed once at the end.
          if (progress.job_id !== jobId || progress.phase === 'gates' || progress.phase === 'failed' || progress.phase === 'plan') continue;
          const line = `${progress.phase}${progress.phase === 'rollout' ? ` ${progress.done}/${progress.total} ready` : ''}${progress.message && progress.phase !== 'rollout' ? `: ${progress.message}` : ''}`;
          if (line !== last) out.stderr(`${line}\n`);
          last = line;
        }
      }
    } catch {
      // The stream ends with the command; progress is a courtesy, the answer is what counts.
    }
  })();
  return { stop: () => controller.abort() };
}

async function localSource(path: string, cwd: string, workspace: string): Promise<DataSource> {
  const resolved = await resolveSource({ path }, cwd, 'gate.data');
  return { path: resolved.path, format: resolved.format, label: basename(path), ...describedHandoff(resolved.path, workspace) };
}

/** Manifests as kubectl takes them: YAML documents, or one JSON List. */
export function formatManifests(manifests: KubeObject[], output: 'yaml' | 'json'): string {
  if (output === 'json') return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifests }, null, 2)}\n`;
  return manifests.map((object) => `---\n${stringify(object, { lineWidth: 0 })}`).join('');
}

function formatGates(gates: GateOutcome[]): string {
  return gates.map((gate) => `  ${gate.status === 'pass' ? 'PASS' : gate.status === 'fail' ? 'FAIL' : 'SKIP'}  ${gate.gate}: ${gate.message}\n`).join('');
}

function formatPlan(plan: DeployPlan): string {
  const lines = [`${plan.name} in ${plan.namespace} (${plan.target}): ${plan.model.ref}, sha256 ${plan.model.sha256.slice(0, 12)}\n`, 'Gates:\n', formatGates(plan.gates)];
  if (plan.changes) {
    lines.push(`Against ${plan.cluster.context} (${plan.cluster.server}):\n`);
    for (const change of plan.changes) {
      lines.push(`  ${change.action.padEnd(9)} ${change.kind}/${change.name}${change.conflicts?.length ? `: ${change.conflicts.map((c) => `${c.field} owned by ${c.manager}`).join(', ')}` : ''}\n`);
      if (change.diff) lines.push(change.diff.split('\n').slice(2).map((line) => `    ${line}`).join('\n'), '\n');
    }
  } else {
    lines.push(`Manifests (${plan.manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}); not compared with a cluster: ${plan.cluster.message ?? 'dry run'}\n`, 'Print them with -o yaml.\n');
  }
  return lines.join('');
}

function formatRollout(rollout: Rollout): string {
  const head = `Rollout ${rollout.state.replace('_', ' ')}${rollout.state === 'not_watched' ? '' : ` in ${rollout.seconds.toFixed(1)} s`}${rollout.message ? `: ${rollout.message}` : ''}\n`;
  return head + rollout.events.map((event) => `  ${event.type} ${event.reason} ${event.object}: ${event.message}\n`).join('');
}

function formatResult(result: DeployResult): string {
  const gates = `Gates:\n${formatGates(result.plan.gates)}`;
  if (result.status !== 'applied') return `${gates}Nothing applied (${result.status}).\n`;
  const changes = (result.plan.changes ?? []).map((c) => `  ${c.action.padEnd(9)} ${c.kind}/${c.name}\n`).join('');
  return `${gates}Applied to ${result.plan.cluster.context} as field manager opsbook:\n${changes}${result.rollout ? formatRollout(result.rollout) : ''}`;
}

function formatDeployment(d: Deployment): string {
  const live = d.live;
  return [
    `${d.name} in ${d.namespace} (${d.target}, context ${d.context ?? '?'})`,
    `model      ${d.model_ref}${d.run_id ? ` (run ${d.run_id})` : ''}`,
    `image      ${d.image}${d.gpu ? `, ${d.gpu} GPU` : ''}`,
    `status     ${live ? `${live.state}, ${live.ready}/${live.desired} ready${live.revision ? `, revision ${live.revision}` : ''}` : `unknown (${d.live_error ?? 'not asked'})`}`,
    ...(live?.canary ? [`canary     ${live.canary.model_ref}: ${live.canary.percent}% (${live.canary.ready}/${live.canary.desired} ready)`] : d.canary ? [`canary     ${d.canary.model_ref}: ${d.canary.percent}%`] : []),
    ...(live?.url ? [`url        ${live.url}`] : []),
    ...(live?.message ? [`message    ${live.message}`] : []),
    ...(d.forced ? [`forced     past ${d.failed_gates.map((g) => g.gate).join(', ')}`] : []),
    ...(live?.events ?? []).map((e) => `  ${e.type} ${e.reason} ${e.object}: ${e.message}`),
    '',
  ].join('\n');
}

function formatList(list: DeploymentList): string {
  if (list.deployments.length === 0) return 'No deployments recorded in this workspace.\n';
  const rows = list.deployments.map((d) => [
    d.name,
    d.namespace,
    d.model_ref,
    d.live ? d.live.state : 'unknown',
    d.live ? `${d.live.ready}/${d.live.desired}` : '',
    d.canary ? `${d.canary.percent}% ${d.canary.model_ref}` : '',
    d.context ?? '',
  ]);
  const all = [['NAME', 'NAMESPACE', 'MODEL', 'STATUS', 'READY', 'CANARY', 'CONTEXT'], ...rows];
  const widths = all[0].map((_, i) => Math.max(...all.map((row) => row[i].length)));
  return all.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}
