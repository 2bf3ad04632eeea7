import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('standalone verifier', () => {
  it('is committed as built from its sources (npm run build:verifier)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'oms-verifier-'));
    try {
      const out = path.join(dir, 'verify.mjs');
      execFileSync(process.execPath, ['verifier/build.mjs', out]);
      expect(readFileSync('verifier/oms-audit-verify.mjs', 'utf8')).toBe(readFileSync(out, 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
