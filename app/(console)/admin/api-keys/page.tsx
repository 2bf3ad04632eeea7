import type { Metadata } from 'next';
import { consoleSession } from '@/server/console.ts';
import { ApiKeys } from '@/components/console/api-keys.tsx';
import { Forbidden } from '@/components/console/forbidden.tsx';

export const metadata: Metadata = { title: 'API keys' };

export default async function ApiKeysPage() {
  const session = (await consoleSession())!;
  if (!session.can('keys:manage')) return <Forbidden what="Managing API keys" role="admin" />;
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">API keys</h1>
      <p className="text-sm text-slate-700 dark:text-slate-300">Apps log events with a key of this tenant (events:write) and read them back (events:read).</p>
      <ApiKeys />
    </div>
  );
}
