import type { Metadata } from 'next';
import { consoleSession } from '@/server/console.ts';
import { Forbidden } from '@/components/console/forbidden.tsx';
import { SystemOverview } from '@/components/console/system-overview.tsx';
import { ClockEvidence } from '@/components/console/clock-evidence.tsx';
import { RelatedKeys } from '@/components/console/related-keys.tsx';

export const metadata: Metadata = { title: 'System' };

export default async function SystemPage() {
  const session = (await consoleSession())!;
  if (!session.can('system:view')) return <Forbidden what="The system overview" role="admin" />;
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">System</h1>
      <p className="text-sm text-slate-700 dark:text-slate-300">
        How this tenant&apos;s events arrive, how the server answering you is doing, and how much the event store holds, and how far each source&apos;s clock is from ours. Prometheus scrapes the same figures from <code>/api/metrics</code>.
      </p>
      <SystemOverview />
      <ClockEvidence canManage={session.can('clock:manage')} />
      <RelatedKeys canManage={session.can('related-keys:manage')} />
    </div>
  );
}
