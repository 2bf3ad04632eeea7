import type { Metadata } from 'next';
import { Suspense } from 'react';
import { consoleSession } from '@/server/console.ts';
import { SearchPage } from '@/components/console/search-page.tsx';

export const metadata: Metadata = { title: 'Search' };

export default async function Home() {
  const session = await consoleSession();
  return (
    <Suspense fallback={<div className="skeleton h-40" />}>
      <SearchPage canExport={session?.can('events:export') ?? false} />
    </Suspense>
  );
}
