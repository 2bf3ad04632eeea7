/**
 * Archives on S3-compatible object storage: a real S3 server (s3rver) on
 * loopback, the AWS SDK, the same lifecycle as on the filesystem — archive,
 * search, restore, a kill in the middle, a corrupted object.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEvent, listEvents } from '@/server/services/query.ts';
import { archiveMonth } from '@/server/services/retention/archive.ts';
import { retentionContext, type RetentionContext } from '@/server/services/retention/context.ts';
import { partsOf, withRetentionLock } from '@/server/services/retention/parts.ts';
import { releaseRestore, restoreMonth } from '@/server/services/retention/restore.ts';
import { runRetention } from '@/server/services/retention/run.ts';
import { allEvents, monthLabel, retentionDatabase, retentionLockFreed, startS3, tenantWithHistory, withoutMark, type RetentionDb, type S3Server } from '@/test/retention.ts';
import { storageAt } from './storage.ts';
import { parseEnv } from '@/server/env.ts';

let db: RetentionDb;
let s3: S3Server;
let ctx: RetentionContext;

beforeAll(async () => {
  [db, s3] = await Promise.all([retentionDatabase(), startS3()]);
  // The read path (as in the server) takes the S3 settings and its download cache from the environment.
  Object.assign(process.env, s3.env, { OMS_AUDIT_DATA_DIR: db.dir });
  ctx = await retentionContext(db.sql, db.env(s3.env), { actor: 'test-s3' });
});
afterAll(async () => {
  await db?.drop();
  await s3?.stop();
});

const seed = { source: 'seed' } as const;

function cli(args: string[], failpoint = ''): Promise<{ signal: NodeJS.Signals | null; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/oms-audit.mjs', ...args], {
      env: { ...process.env, ...s3.env, DATABASE_URL: db.url, OMS_AUDIT_DATA_DIR: db.dir, RETENTION_MIN_TOTAL_YEARS: '1', OMS_AUDIT_FAILPOINT: failpoint },
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('retention on S3-compatible storage', () => {
  it('archives into the bucket, survives a kill, and serves search, get and restore from S3', async () => {
    const t = await tenantWithHistory(db.sql, 's3', [15, 14, 1], 20);
    const before = await allEvents(db.sql, t.claims, seed);

    const killed = await cli(['retention', 'run'], 'archive:after-upload');
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(withoutMark(await allEvents(db.sql, t.claims, seed))).toEqual(before);

    await retentionLockFreed(db.admin);
    const result = await runRetention(ctx);
    expect(result.problems).toEqual([]);
    const parts = await partsOf(db.sql, { tenantId: t.id });
    expect(parts.map((p) => [p.month.slice(0, 7), p.state, p.storage_url])).toEqual([
      [monthLabel(15), 'dropped', `s3://${s3.bucket}/archives`],
      [monthLabel(14), 'dropped', `s3://${s3.bucket}/archives`],
    ]);
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `archives/tenant_id=${t.id}/` }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(parts.flatMap((p) => [`archives/${p.data_key}`, `archives/${p.manifest_key}`]).sort());
    client.destroy();

    // Read back from the bucket: the same events, archived ones marked; one by id; an object's history.
    const after = await allEvents(db.sql, t.claims, seed);
    expect(withoutMark(after)).toEqual(before);
    expect(after.filter((e) => e.archived)).toHaveLength(40);
    const old = before[0]!;
    expect(await getEvent(db.sql, t.claims, old.id)).toEqual({ ...old, archived: true });
    const history = await listEvents(db.sql, t.claims, { object_type: 'ORDER', object_id: old.object_id, limit: 100, order: 'asc' });
    expect(withoutMark(history.events)).toEqual(before.filter((e) => e.object_id === old.object_id));

    const restore = await restoreMonth(ctx, { tenantId: t.id, month: `${monthLabel(15)}-01` });
    expect(restore.row_count).toBe(20);
    expect(withoutMark(await allEvents(db.sql, t.claims, seed))).toEqual(before);
    await releaseRestore(ctx, { tenantId: t.id, month: `${monthLabel(15)}-01` });
  });

  it('detects a corrupted object before dropping the month', async () => {
    const t = await tenantWithHistory(db.sql, 's3-corrupt', [16], 15);
    const month = `${monthLabel(16)}-01`;
    expect((await withRetentionLock(db.sql, { wait: false }, () => archiveMonth(ctx, month, { drop: false }))).outcome).toBe('kept');
    const [part] = await partsOf(db.sql, { tenantId: t.id, month });
    const storage = await storageAt(part!.storage_url, db.env(s3.env));
    const bytes = await storage.getBytes(part!.data_key);
    bytes[40] = bytes[40]! ^ 0x10;
    await storage.putBytes(part!.data_key, bytes, { sha256: createHash('sha256').update(bytes).digest('hex'), contentType: 'application/octet-stream' });

    const run = await runRetention(ctx);
    expect(run.problems.join('\n')).toMatch(/SHA-256/);
    expect((await db.sql`select count(*)::int as n from public.audit_events where tenant_id = ${t.id} and source = 'seed'`)[0]!.n).toBe(15);
    const healed = await runRetention(ctx);
    expect(healed.problems).toEqual([]);
    expect((await partsOf(db.sql, { tenantId: t.id, month })).map((p) => p.state)).toEqual(['failed', 'dropped']);
    expect(await allEvents(db.sql, t.claims, seed)).toHaveLength(15);
  });

  it('uses Object Lock only where the bucket has it, and refuses to write without it when required', async () => {
    expect(await ctx.storage!.objectLock()).toBe(false);
    const strict = await storageAt(`s3://${s3.bucket}/locked`, parseEnv({ ...s3.env, ARCHIVE_S3_OBJECT_LOCK: 'on' }));
    await expect(strict.objectLock()).rejects.toThrow();
  });
});
