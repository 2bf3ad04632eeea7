import type { Metadata } from 'next';
import { consoleSession } from '@/server/console.ts';
import { Forbidden } from '@/components/console/forbidden.tsx';
import { Retention } from '@/components/console/retention.tsx';

export const metadata: Metadata = { title: 'Retention' };

export default async function RetentionPage() {
  const session = (await consoleSession())!;
  if (!session.can('retention:view')) return <Forbidden what="Retention" role="auditor" />;
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Retention</h1>
      <p className="max-w-3xl text-sm text-slate-700 dark:text-slate-300">
        Months past the hot window are archived to Parquet, verified against the signed ledger, and only then removed from PostgreSQL. Archives
        are kept for the total retention period; a legal hold keeps everything in its scope, whatever the policy says.
      </p>
      <Retention canManage={session.can('retention:manage')} />
    </div>
  );
}
