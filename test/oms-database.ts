/**
 * An OMS's own database for outbox tests: a database of its own on the test
 * cluster, owned by a role of its own, with an `orders` table, the outbox
 * installed by that owner, and two more roles as an OMS would have them: the
 * application (writes orders and audit events, nothing else of the outbox) and
 * the relay (reads and removes queued events). Dropped with its roles afterwards.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import postgres from 'postgres';
import { installOutbox } from '@/sdk/outbox/admin.ts';

export interface OmsDatabase {
  name: string;
  /** The database's owner: installed the outbox, owns the orders table. */
  ownerUrl: string;
  /** The OMS application's role: orders, and the outbox's log functions. */
  appUrl: string;
  /** The relay's role. */
  relayUrl: string;
  /** The cluster's superuser, in this database. */
  adminUrl: string;
  roles: { owner: string; app: string; relay: string };
  drop(): Promise<void>;
}

function inDatabase(url: string, database: string, user?: string, password?: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  if (user) u.username = user;
  if (password) u.password = password;
  return u.toString();
}

/** `withOutbox: false` leaves the outbox out (for the tests of installing it). */
export async function createOmsDatabase({ withOutbox = true }: { withOutbox?: boolean } = {}): Promise<OmsDatabase> {
  const suffix = randomUUID().replace(/-/g, '').slice(0, 12);
  const name = `oms_${suffix}`;
  const roles = { owner: `oms_${suffix}_owner`, app: `oms_${suffix}_app`, relay: `oms_${suffix}_relay` };
  const passwords = { owner: randomBytes(12).toString('hex'), app: randomBytes(12).toString('hex'), relay: randomBytes(12).toString('hex') };
  const clusterAdmin = inject('adminDatabaseUrl');
  const admin = postgres(clusterAdmin, { max: 1, onnotice: () => {} });
  try {
    for (const role of ['owner', 'app', 'relay'] as const) await admin.unsafe(`create role ${roles[role]} login password '${passwords[role]}'`);
    await admin.unsafe(`create database ${name} owner ${roles.owner}`);
  } finally {
    await admin.end();
  }
  const db: OmsDatabase = {
    name,
    ownerUrl: inDatabase(clusterAdmin, name, roles.owner, passwords.owner),
    appUrl: inDatabase(clusterAdmin, name, roles.app, passwords.app),
    relayUrl: inDatabase(clusterAdmin, name, roles.relay, passwords.relay),
    adminUrl: inDatabase(clusterAdmin, name),
    roles,
    async drop() {
      const sql = postgres(clusterAdmin, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists ${name} with (force)`);
        for (const role of Object.values(roles)) await sql.unsafe(`drop role if exists ${role}`);
      } finally {
        await sql.end();
      }
    },
  };
  const owner = postgres(db.ownerUrl, { max: 1, onnotice: () => {} });
  try {
    await owner.unsafe(`
      create table orders (id text primary key, status text not null, quantity int not null, updated_at timestamptz not null default now());
      grant select, insert, update on orders to ${roles.app};`);
  } finally {
    await owner.end();
  }
  if (withOutbox) await installOutbox(db.ownerUrl, { writerRoles: [roles.app], relayRoles: [roles.relay] });
  return db;
}
