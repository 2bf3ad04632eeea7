import type { Metadata } from 'next';
import Link from 'next/link';
import { Suspense } from 'react';
import { consoleSession } from '@/server/console.ts';
import { ActorActivity } from '@/components/console/actor-activity.tsx';

export const metadata: Metadata = { title: 'Actor activity' };

export default async function ActorPage({ params }: { params: Promise<{ id: string }> }) {
  const actorId = decodeURIComponent((await params).id);
  const session = (await consoleSession())!;
  return (
    <div className="space-y-3">
      <nav aria-label="Breadcrumb" className="text-sm">
        <Link href="/" className="link">
          Search
        </Link>{' '}
        / Actor activity
      </nav>
      <h1 className="text-xl font-semibold">Activity of {actorId}</h1>
      {session.can('retention:manage') ? (
        <p className="text-sm">
          <Link href={`/admin/personal-data?subject=${encodeURIComponent(actorId)}`} className="link">
            Erase this person&apos;s personal data…
          </Link>
        </p>
      ) : null}
      <Suspense fallback={<div className="skeleton h-40" />}>
        <ActorActivity actorId={actorId} />
      </Suspense>
    </div>
  );
}
