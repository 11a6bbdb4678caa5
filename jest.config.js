/** Jest runs the TypeScript tests of every package (ts-jest, CommonJS). */
const ESM_ONLY = ['@kubernetes/client-node', 'openid-client', 'oauth4webapi', 'jose'];
const project = (name, roots, extra = {}) => ({
  displayName: name,
  roots,
  testMatch: ['**/*.test.ts', '**/*.test.tsx'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/lib/'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }],
    // @kubernetes/client-node and some of its dependencies are ES modules only: Node 20 requires them
    // natively, Jest 30 on Node 20 does not, so they are compiled to CommonJS (cached after the first run).
    '^.+\\.js$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.esm-deps.json' }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  moduleNameMapper: { '^@opsbook/schema$': '<rootDir>/schema/index.ts' },
  testEnvironment: 'node',
  ...extra,
});

module.exports = {
  rootDir: __dirname,
  // Many suites start real daemons, kernels and CLI processes; on two loaded cores a start can take
  // seconds. Timings are benchmarks' business, so the per-test limit only catches hangs.
  testTimeout: 60_000,
  // Jest's default on two cores is one worker, but most suites wait on the processes they start:
  // two workers took the whole run from 10 to 6 minutes on two cores, every test passing.
  maxWorkers: Math.max(2, require('node:os').availableParallelism() - 1),
  projects: [
    project('core', ['<rootDir>/src']),
    project('kernel-bridge', ['<rootDir>/kernel-bridge/src']),
    project('schema', ['<rootDir>/schema']),
    // The VS Code extension: \`vscode\` exists only inside VS Code, so its unit tests get the stub of
    // vscode-extension/src/testing/vscode.ts at that one boundary (the end-to-end tests run the real one).
    project('vscode-extension', ['<rootDir>/vscode-extension/src', '<rootDir>/vscode-extension/web'], {
      moduleNameMapper: {
        '^@opsbook/schema$': '<rootDir>/schema/index.ts',
        '^vscode$': '<rootDir>/vscode-extension/src/testing/vscode.ts',
      },
    }),
  ],
};
