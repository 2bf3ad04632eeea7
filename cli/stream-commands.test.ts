/** oms-audit stream …, run as a real process against the test database. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, testSql } from '@/test/fixtures.ts';
import { runCli } from '@/test/cli.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-cli-stream-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('oms-audit stream', () => {
  it('adds, lists, pauses, resumes, rotates and removes streams, showing a generated secret once and never a given one', async () => {
    const t = await newTenant('cli-streams');
    const added = await runCli(['stream', 'add', '--tenant', t.id, '--name', 'siem', '--format', 'webhook', '--url', 'https://siem.example.com/oms', '--start', 'beginning', '--json']);
    expect(added.code, added.stderr).toBe(0);
    const { stream, secret } = JSON.parse(added.stdout);
    expect(secret).toMatch(/^whsec_/);
    expect(stream).toMatchObject({ name: 'siem', format: 'webhook', destination: 'https://siem.example.com/oms', start_seq: 1, state: 'active' });

    const tokenFile = path.join(dir, 'hec-token');
    await writeFile(tokenFile, 'hec-token-from-file\n');
    const splunk = await runCli(['stream', 'add', '--tenant', t.name, '--name', 'splunk', '--format', 'splunk_hec', '--url', 'https://splunk.example.com:8088', '--secret-file', tokenFile, '--index', 'audit', '--json']);
    expect(splunk.code, splunk.stderr).toBe(0);
    expect(JSON.parse(splunk.stdout)).toMatchObject({ secret: null, stream: { format: 'splunk_hec', settings: { index: 'audit' }, destination: 'https://splunk.example.com:8088/services/collector/event' } });

    const list = await runCli(['stream', 'list', '--tenant', t.id]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`${stream.id}  siem  webhook  https://siem.example.com/oms`);
    expect(list.stdout).not.toContain(secret);
    expect(list.stdout).not.toContain('hec-token-from-file');

    expect(JSON.parse((await runCli(['stream', 'pause', '--id', stream.id, '--json'])).stdout).stream).toMatchObject({ state: 'paused', status: 'paused' });
    expect(JSON.parse((await runCli(['stream', 'resume', '--id', stream.id, '--json'])).stdout).stream).toMatchObject({ state: 'active' });
    const rotated = JSON.parse((await runCli(['stream', 'rotate-secret', '--id', stream.id, '--json'])).stdout);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(secret);
    expect(rotated.stream.previous_secret_until).not.toBeNull();

    const removed = await runCli(['stream', 'remove', '--id', stream.id, '--json']);
    expect(JSON.parse(removed.stdout)).toEqual({ id: stream.id, name: 'siem' });
    const [row] = await testSql()`select count(*)::int as n from oms_audit.log_streams where tenant_id = ${t.id}`;
    expect(row!.n).toBe(1);
  });

  it('refuses what cannot work: no credential file for Splunk, an unknown format, a plain-http URL, an unknown stream', async () => {
    const t = await newTenant('cli-streams-bad');
    expect((await runCli(['stream', 'add', '--tenant', t.id, '--name', 'x', '--format', 'splunk_hec', '--url', 'https://splunk.example.com'])).code).toBe(2);
    expect((await runCli(['stream', 'add', '--tenant', t.id, '--name', 'x', '--format', 'kafka'])).code).toBe(2);
    const http = await runCli(['stream', 'add', '--tenant', t.id, '--name', 'x', '--format', 'webhook', '--url', 'http://siem.example.com', '--json']);
    expect(http.code).toBe(1);
    expect(JSON.parse(http.stdout).error).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('https') });
    expect((await runCli(['stream', 'pause', '--id', '00000000-0000-4000-8000-000000000000'])).code).toBe(1);
  });
});
