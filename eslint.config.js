// Lint rules. The one that matters most for the architecture: core/ may not reach out to
// HTTP, SQL, cloud SDKs or the file system (DESIGN.md "Shape of the code").
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', 'data', 'web/dist', 'test-artifacts', 'tmp-bench'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      curly: ['error', 'all'],
      'prefer-const': 'error',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'], // tests wire real adapters (STYLE.md: never mock our own stores)
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/http/**', '**/adapters/**', '**/jobs/**', '**/cli/**'],
              message: 'core must not depend on outer layers',
            },
            {
              group: ['fastify', 'fastify/*', '@fastify/*', 'kysely', 'pg', '@aws-sdk/*'],
              message: 'core is free of HTTP and SQL',
            },
            { group: ['node:fs', 'node:fs/*', 'fs', 'fs/*'], message: 'core does no file I/O; use a port' },
          ],
        },
      ],
    },
  },
);
