/**
 * Runs the fake Kubernetes API server for the Galata and pytest suites (which cannot import it):
 *   node src/dist/deploy/testing/fake-apiserver-main.js --kubeconfig PATH [--context NAME] [--fail-image REGEX]...
 *     [--tick-ms N] [--ready-after-ticks N] [--progress-deadline-ticks N]
 * writes the kubeconfig, prints one JSON line {"event":"ready","url":...,"kubeconfig":...} and serves until
 * SIGTERM or SIGINT.
 */
import { FakeApiServer, type FakeApiServerOptions } from './fake-apiserver';

function parseArgs(argv: string[]): { kubeconfig: string; context?: string; options: FakeApiServerOptions } {
  const options: FakeApiServerOptions = {};
  let kubeconfig: string | undefined;
  let context: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    i++;
    switch (flag) {
      case '--kubeconfig':
        kubeconfig = value;
        break;
      case '--context':
        context = value;
        break;
      case '--fail-image':
        // The reason and message the kubelet gives for an image that cannot be pulled.
        (options.failingImages ??= []).push({ pattern: new RegExp(value), reason: 'ErrImagePull', message: 'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and unpack image "{image}": not found' });
        break;
      case '--tick-ms':
        options.tickMs = Number(value);
        break;
      case '--ready-after-ticks':
        options.readyAfterTicks = Number(value);
        break;
      case '--progress-deadline-ticks':
        options.progressDeadlineTicks = Number(value);
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  if (!kubeconfig) throw new Error('--kubeconfig PATH is required');
  return { kubeconfig, context, options };
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`fake-apiserver: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const fake = await FakeApiServer.start(args.options);
  fake.writeKubeconfig(args.kubeconfig, args.context);
  // The listening server keeps the process alive (the controller timer is unref'd).
  const shutdown = () => {
    void fake.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.stdout.write(`${JSON.stringify({ event: 'ready', url: fake.url, kubeconfig: args.kubeconfig })}\n`);
}

void main();
