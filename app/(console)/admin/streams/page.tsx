import type { Metadata } from 'next';
import { consoleSession } from '@/server/console.ts';
import { Forbidden } from '@/components/console/forbidden.tsx';
import { Streams } from '@/components/console/streams.tsx';

export const metadata: Metadata = { title: 'Streams' };

export default async function StreamsPage() {
  const session = (await consoleSession())!;
  if (!session.can('streams:manage')) return <Forbidden what="Managing log streams" role="admin" />;
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Streams</h1>
      <p className="text-sm text-slate-700 dark:text-slate-300">
        Deliver this tenant&apos;s trail to your SIEM as it is sealed: at least once, in seq order, each batch with the signed checkpoints that let the receiver prove nothing is missing
        or changed (<code>node verify.mjs stream</code>).
      </p>
      <Streams />
    </div>
  );
}
