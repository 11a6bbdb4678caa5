// Lint: type-aware rules for the TypeScript packages, and the layer rules of DESIGN.md as
// import restrictions whose messages explain the rule.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { readFileSync } from 'node:fs';

// The layer rules live in src/layers.json, which src/boundaries.test.ts reads too.
const layers = JSON.parse(readFileSync(new URL('./src/layers.json', import.meta.url), 'utf8'));
const NODE_ONLY = layers.nodeOnly.map(({ modules, message }) => ({ group: modules, message }));
const EDITOR_APIS = [{ group: layers.editorApis.modules, message: layers.editorApis.message }];
const CAPABILITIES = layers.capabilities;
const capabilityRules = CAPABILITIES.map((name) => ({
  files: [`src/${name}/**/*.ts`],
  ignores: ['src/**/*.test.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        ...EDITOR_APIS,
        {
          group: CAPABILITIES.filter((other) => other !== name).flatMap((other) => [`../${other}/*`, `../../${other}/*`]),
          message: layers.capabilityMessage,
        },
      ],
    }],
  },
}));
const browserFiles = layers.browserFolders.flatMap((folder) => [`${folder}/**/*.ts`, `${folder}/**/*.tsx`]);
const editorHostRules = {
  files: layers.editorHosts.folders.map((folder) => `${folder}/**/*.ts`),
  rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: layers.editorHosts.forbidden, message: layers.editorHosts.message }] }] },
};

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**', '**/dist/**', '**/lib/**', 'schema/generated/**', '.venv/**', '.stamps/**',
      'kernel-bridge/python/**', 'vscode-extension/web/generated/**', 'ui-tests/test-results/**', 'ui-tests/playwright-report/**',
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
    files: browserFiles,
    ignores: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...EDITOR_APIS, ...NODE_ONLY] }] },
  },
  ...capabilityRules,
  editorHostRules,
);
