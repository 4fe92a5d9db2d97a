import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** What reads like an SQL statement (esquery regex): SELECT …, INSERT INTO, UPDATE … SET, DELETE FROM, WITH … AS (. */
const SQL_STATEMENT = String.raw`/\b(SELECT\s+[\w*(]|INSERT\s+INTO\s|UPDATE\s+\w+(\s+\w+)?\s+SET\s|DELETE\s+FROM\s|WITH\s+\w+\s+AS\s+\()/`;

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'libs/client/src/generated/', 'libs/client/dist/', '.client-check-*/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    // No consistent-type-imports: constructor parameter types must stay value imports for Nest's DI metadata.
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error', 'log', 'warn'] }],
    },
  },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } } },
  {
    // SQL only in repositories (`*.repository.ts`), SQL fragment files (`*.sql.ts`) and libs/database:
    // a string or template that reads like a statement anywhere else in apps/ and libs/ is an error.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: ['**/*.repository.ts', '**/*.sql.ts', 'libs/database/**', '**/*.spec.ts', 'libs/client/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        ...['Literal', 'TemplateElement'].map((node) => ({
          selector: `${node}[${node === 'Literal' ? 'value' : 'value.raw'}=${SQL_STATEMENT}]`,
          message: 'SQL belongs in a repository (*.repository.ts), a *.sql.ts fragment file or libs/database.',
        })),
      ],
    },
  },
);
