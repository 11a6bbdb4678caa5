// Lint: type-aware rules for the TypeScript packages, and the layer rules of DESIGN.md as
// import restrictions whose messages explain the rule.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const NODE_ONLY = [
  { group: ['node:*', 'fs', 'fs/*', 'path', 'child_process', 'os', 'crypto', 'http', 'https', 'net'], message: 'src/views and src/client run in browsers and webviews: no Node built-ins. Move this work into a capability or the daemon and call it through the API.' },
  { group: ['@duckdb/*', 'onnxruntime-node', '@kubernetes/client-node', 'zeromq'], message: 'src/views and src/client run in browsers and webviews: node-only modules belong in the core capabilities behind the daemon API.' },
];
const EDITOR_APIS = [
  { group: ['vscode', '@jupyterlab/*', '@lumino/*'], message: 'src/ is the editor-free core: it defines host interfaces that each editor implements, and never imports an editor API.' },
];

const CAPABILITIES = ['tracking', 'quality', 'explain', 'serving', 'deploy'];
const capabilityRules = CAPABILITIES.map((name) => ({
  files: [`src/${name}/**/*.ts`],
  ignores: ['src/**/*.test.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        ...EDITOR_APIS,
        {
          group: CAPABILITIES.filter((other) => other !== name).flatMap((other) => [`../${other}/*`, `../../${other}/*`]),
          message: `Capabilities do not import each other's internals: import another capability's index, or meet in src/daemon and through the tracking store.`,
        },
      ],
    }],
  },
}));

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**', '**/dist/**', '**/lib/**', 'schema/generated/**', '.venv/**', '.stamps/**',
      'kernel-bridge/python/**', 'ui-tests/test-results/**', 'ui-tests/playwright-report/**',
      '**/*.js', '**/*.mjs', '**/*.cjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    ignores: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    rules: { 'no-restricted-imports': ['error', { patterns: EDITOR_APIS }] },
  },
  {
    files: ['src/views/**/*.ts', 'src/views/**/*.tsx', 'src/client/**/*.ts'],
    ignores: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...EDITOR_APIS, ...NODE_ONLY] }] },
  },
  ...capabilityRules,
);
