import type { Metadata } from 'next';
import { consoleSession } from '@/server/console.ts';
import { Forbidden } from '@/components/console/forbidden.tsx';
import { Users } from '@/components/console/users.tsx';

export const metadata: Metadata = { title: 'Users' };

export default async function UsersPage() {
  const session = (await consoleSession())!;
  if (!session.can('users:manage')) return <Forbidden what="Managing users" role="admin" />;
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Users</h1>
      <p className="text-sm text-slate-700 dark:text-slate-300">
        Roles: <strong>viewer</strong> searches and inspects; <strong>auditor</strong> also exports and verifies; <strong>admin</strong> also manages API keys, users and retention.
      </p>
      <Users selfId={session.me.user!.id} />
    </div>
  );
}
