import type { Metadata } from 'next';
import { consoleSession } from '@/server/console.ts';
import { SavedSearches } from '@/components/console/saved-searches.tsx';

export const metadata: Metadata = { title: 'Saved searches' };

export default async function SavedPage() {
  const session = (await consoleSession())!;
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Saved searches</h1>
      <SavedSearches userId={session.me.user!.id} isAdmin={session.me.tenant?.role === 'admin'} />
    </div>
  );
}
