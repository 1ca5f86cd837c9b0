// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The sans-IO packages may not reach the clock, timers, global randomness or Node (DESIGN). */
const sansIo = {
  files: [
    'packages/protocol/src/**/*.ts',
    'packages/netsim/src/**/*.ts',
    'packages/fec/src/**/*.ts',
  ],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [{ group: ['node:*'], message: 'sans-IO: no Node APIs in the core' }],
        paths: ['fs', 'dgram', 'net', 'crypto', 'os', 'timers', 'process'],
      },
    ],
    'no-restricted-globals': [
      'error',
      { name: 'Date', message: 'sans-IO: take `now` as an argument' },
      { name: 'setTimeout', message: 'sans-IO: timers are data (pollTimeout)' },
      { name: 'setInterval', message: 'sans-IO: timers are data (pollTimeout)' },
      { name: 'setImmediate', message: 'sans-IO: timers are data (pollTimeout)' },
      { name: 'performance', message: 'sans-IO: take `now` as an argument' },
      { name: 'process', message: 'sans-IO: no process access' },
    ],
    'no-restricted-properties': [
      'error',
      { object: 'Math', property: 'random', message: 'sans-IO: use the injected Random' },
      {
        object: 'crypto',
        property: 'getRandomValues',
        message: 'sans-IO: use the injected Random',
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ['**/dist/**', '**/dist-test/**', '**/node_modules/**', 'coverage/**', '.tap/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  sansIo,
);
