/**
 * Invitations are mailed through a real SMTP server (smtp-server from npm, on
 * a free local port) with the link under PUBLIC_URL — never under a Host
 * header a caller chose — and the mail's link is the one that works, once.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMember, newTenant, testSql } from '@/test/fixtures.ts';

interface Received {
  from: string;
  to: string[];
  raw: Buffer;
}

const received: Received[] = [];
let server: SMTPServer;

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // Read when the environment is first parsed, i.e. by the first service call below.
  process.env.SMTP_URL = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  process.env.SMTP_FROM = 'oms-audit <audit@brokerage.example>';
  process.env.PUBLIC_URL = 'https://audit.brokerage.example';
});

afterAll(async () => {
  for (const name of ['SMTP_URL', 'SMTP_FROM', 'PUBLIC_URL']) delete process.env[name];
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('invitation mail', () => {
  it('mails the one-time link under PUBLIC_URL to the invited address, and the mailed link is the one that works', async () => {
    const { createInvitation, acceptInvitation } = await import('./invitations.ts');
    const t = await newTenant('mail');
    await newMember(t.id, 'admin');
    const email = `invitee-${randomUUID()}@example.com`;
    const created = await createInvitation(testSql(), { tenantId: t.id, email, role: 'auditor', createdBy: 'test' });
    expect(created.mailed).toBe(true);

    const mail = received.find((m) => m.to.includes(email))!;
    expect(mail.from).toBe('audit@brokerage.example');
    const parsed = await simpleParser(mail.raw);
    expect(parsed.subject).toBe(`You are invited to ${t.name} on oms-audit`);
    const link = /https:\/\/audit\.brokerage\.example\/invitation#(omsi_[A-Za-z0-9_-]+)/.exec(parsed.text ?? '');
    expect(link, parsed.text).not.toBeNull();
    expect(link![1]).toBe(created.token);
    expect(parsed.text).toContain('72 hours');
    // What is stored is the hash of what was mailed.
    const [row] = await testSql()`select token_hash from oms_audit.invitations where id = ${created.invitation.id}`;
    expect(Buffer.from(row!.token_hash as Uint8Array)).toEqual(createHash('sha256').update(link![1]!).digest());

    const accepted = await acceptInvitation(testSql(), link![1]!, { as: 'new_account', password: 'my own long password' }, { ip: null, userAgent: 'mail-test' });
    expect(accepted).toMatchObject({ tenantId: t.id, role: 'auditor', user: { email } });
    await expect(acceptInvitation(testSql(), link![1]!, { as: 'new_account', password: 'my own long password' }, { ip: null, userAgent: 'mail-test' })).rejects.toMatchObject({ status: 404 });
  });

  it('mails an email that has an account exactly as one that has none', async () => {
    const { createInvitation } = await import('./invitations.ts');
    const [mine, elsewhere] = await Promise.all([newTenant('mail-same'), newTenant('mail-elsewhere')]);
    const known = await newMember(elsewhere.id, 'viewer');
    const unknown = `nobody-${randomUUID()}@example.com`;
    const results = [await createInvitation(testSql(), { tenantId: mine.id, email: known.email, role: 'viewer', createdBy: 'test' }), await createInvitation(testSql(), { tenantId: mine.id, email: unknown, role: 'viewer', createdBy: 'test' })];
    expect(results.map((r) => r.mailed)).toEqual([true, true]);
    const texts = await Promise.all(
      [known.email, unknown].map(async (to, i) => (await simpleParser(received.find((m) => m.to.includes(to))!.raw)).text!.replace(results[i]!.token, 'TOKEN')),
    );
    expect(texts[0]).toBe(texts[1]);
  });
});
