import nextCoreWebVitals from 'eslint-config-next/core-web-vitals';
import nextTypescript from 'eslint-config-next/typescript';

const config = [
  ...nextCoreWebVitals,
  ...nextTypescript,
  {
    ignores: ['.next/**', '.data/**', '.test-data/**', 'node_modules/**', 'bench/.work/**', 'bench/results/**', 'test-results/**', 'playwright-report/**', 'next-env.d.ts', 'verifier/oms-audit-verify.mjs', 'sdk/dist/**'],
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
];

export default config;
