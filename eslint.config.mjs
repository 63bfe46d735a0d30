// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Node built-ins and I/O clients that must never reach workflow code: a workflow must be
// deterministic and runs in Temporal's sandbox, so all side effects belong in activities.
const builtins = [
  'assert',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'process',
  'readline',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'worker_threads',
  'zlib',
];
const workflowBans = [
  ...builtins
    .flatMap((m) => [m, `node:${m}`])
    .map((name) => ({
      name,
      message: 'Workflows are deterministic: no Node built-ins (use an activity).',
    })),
];

export default tseslint.config(
  {
    ignores: ['node_modules/', '.stack/', 'test-output/', 'dist/', 'bin/', '**/*.mjs', '**/*.cjs'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: workflowBans,
          patterns: [
            { group: ['@aws-sdk/*'], message: 'Workflows must not call AWS: use an activity.' },
            { group: ['kafkajs'], message: 'Workflows must not talk to Kafka: use an activity.' },
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity'],
              message: 'Workflows import only @temporalio/workflow.',
            },
            {
              group: ['../adapters/*', '../workers/*', '../api/*', '../cli/*', '../config'],
              message: 'Workflows import only domain code and activity types.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: workflowBans,
          patterns: [
            { group: ['@aws-sdk/*', 'kafkajs', '@temporalio/*'], message: 'Domain code is pure.' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // chai-less assertions with node:assert are fine; mocha's describe/it return values are ignored by design
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
);
