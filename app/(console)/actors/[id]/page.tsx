import type { Metadata } from 'next';
import Link from 'next/link';
import { Suspense } from 'react';
import { ActorActivity } from '@/components/console/actor-activity.tsx';

export const metadata: Metadata = { title: 'Actor activity' };

export default async function ActorPage({ params }: { params: Promise<{ id: string }> }) {
  const actorId = decodeURIComponent((await params).id);
  return (
    <div className="space-y-3">
      <nav aria-label="Breadcrumb" className="text-sm">
        <Link href="/" className="link">
          Search
        </Link>{' '}
        / Actor activity
      </nav>
      <h1 className="text-xl font-semibold">Activity of {actorId}</h1>
      <Suspense fallback={<div className="skeleton h-40" />}>
        <ActorActivity actorId={actorId} />
      </Suspense>
    </div>
  );
}
