/** The SDK's main entry bundles for browsers: nothing from Node (fs, net, crypto) is pulled in. */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('sdk/index.ts in a browser bundle', () => {
  it('bundles for the browser platform without Node built-ins', async () => {
    const result = await build({ entryPoints: ['sdk/index.ts'], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', metafile: true });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((file) => file.startsWith('node:') || file === 'sdk/node.ts')).toEqual([]);
    expect(inputs).toContain('supabase/functions/_shared/contract.ts');
  });
});
