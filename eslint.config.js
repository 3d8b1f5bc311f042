import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    // Worker scripts are plain CommonJS so they run from src/ and dist/ alike.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Only the CLI exits, and only the CLI knows commander.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'commander', message: 'commander belongs in src/cli' }] }],
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'only src/cli exits' }],
    },
  },
  {
    // The box half runs inside the VM: it must not depend on the host half (README.md, the two halves).
    // Listed after the block above, so it replaces that block's import rule for these files.
    files: ['src/runtime/**/*.ts', 'src/builder/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'commander', message: 'commander belongs in src/cli' }],
          patterns: [
            {
              regex: '^(\\.\\./)+(vm|box|transport|cli|ui|schedule)/',
              message: 'the box half (runtime, builder) must not import the host half',
            },
          ],
        },
      ],
    },
  },
);
