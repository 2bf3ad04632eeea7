/** The session check every console request makes stays two primary-key lookups, however many sessions exist. */
import { describe, expect, it } from 'vitest';
import { newMember, newTenant, testSql } from '@/test/fixtures.ts';
import { sessionLookup } from './sessions.ts';

type Node = { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; Plans?: Node[] };

describe('session lookup plan', () => {
  it('reads one session row and one user row through their primary keys', async () => {
    const t = await newTenant('session-plan');
    const m = await newMember(t.id, 'viewer');
    // Many sessions and many users, so the planner has a real choice to make.
    await testSql()`
      insert into oms_audit.console_sessions (id, user_id, expires_at, method)
      select 'plan-' || md5(g::text || ${m.user.id}), ${m.user.id}, now() + interval '1 hour', 'password' from generate_series(1, 5000) g`;
    await testSql()`
      insert into oms_audit.users (email, created_by)
      select 'plan-' || g || '-' || md5(${m.user.id} || g::text) || '@example.com', 'test' from generate_series(1, 5000) g`;
    await testSql()`analyze oms_audit.console_sessions`;
    await testSql()`analyze oms_audit.users`;
    const [row] = await testSql()`explain (format json) ${sessionLookup(testSql(), m.sessionId, m.user.id)}`;
    const scans: Node[] = [];
    const walk = (n: Node) => {
      if (n['Relation Name']) scans.push(n);
      n.Plans?.forEach(walk);
    };
    walk((row!['QUERY PLAN'] as { Plan: Node }[])[0]!.Plan);
    expect(scans.map((n) => [n['Relation Name'], n['Node Type'], n['Index Name']]).sort()).toEqual([
      ['console_sessions', 'Index Scan', 'console_sessions_pkey'],
      ['users', 'Index Scan', 'users_pkey'],
    ]);
  });
});
