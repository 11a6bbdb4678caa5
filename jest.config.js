/** Jest runs the TypeScript tests of every package (ts-jest, CommonJS). */
const project = (name, roots, extra = {}) => ({
  displayName: name,
  roots,
  testMatch: ['**/*.test.ts', '**/*.test.tsx'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/lib/'],
  transform: { '^.+\\.tsx?$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
  moduleNameMapper: { '^@opsbook/schema$': '<rootDir>/schema/index.ts' },
  testEnvironment: 'node',
  ...extra,
});

module.exports = {
  rootDir: __dirname,
  projects: [
    project('core', ['<rootDir>/src']),
    project('kernel-bridge', ['<rootDir>/kernel-bridge/src']),
    project('schema', ['<rootDir>/schema']),
  ],
};
