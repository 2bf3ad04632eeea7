/** The heap flag npm start passes keeps V8's limit under MEMORY_LIMIT_MB; a process without it is told at boot. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { heapFlag, heapLimitWarning } from './heap-limit.ts';

const limitUnder = (flag: string | null) =>
  Number(execFileSync(process.execPath, [...(flag ? [flag] : []), '-e', "process.stdout.write(String(require('v8').getHeapStatistics().heap_size_limit))"], { encoding: 'utf8' })) / 1024 / 1024;

describe('the server heap limit', () => {
  it('puts V8 under MEMORY_LIMIT_MB with the flag, and is quiet then', () => {
    for (const memory of [512, 768, 2048]) expect(limitUnder(heapFlag(memory))).toBeLessThanOrEqual(memory);
  });

  it('is the flag npm start computes from MEMORY_LIMIT_MB', () => {
    const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
    const line = start.replace(/\$\(\(\$\{MEMORY_LIMIT_MB:-(\d+)\} - (\d+)\)\)/, (_, d: string, n: string) => String(Number(d) - Number(n)));
    expect(line).toContain(heapFlag(768));
  });

  it('warns when the process can grow past the limit', () => {
    // This test process runs without the flag: V8's default limit on this machine is far above 512 MB.
    expect(heapLimitWarning(512)).toContain('--max-old-space-size=384');
    expect(heapLimitWarning(1_000_000)).toBeNull();
  });
});
