import type { Metadata } from 'next';
import { consoleSession } from '@/server/console.ts';
import { Forbidden } from '@/components/console/forbidden.tsx';
import { PersonalDataErasure } from '@/components/console/personal-data-erasure.tsx';

export const metadata: Metadata = { title: 'Personal data' };

export default async function PersonalDataPage({ searchParams }: { searchParams: Promise<{ subject?: string | string[] }> }) {
  const session = (await consoleSession())!;
  if (!session.can('retention:manage')) return <Forbidden what="Erasing a person's personal data" role="admin" />;
  const subject = (await searchParams).subject;
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Personal data</h1>
      <p className="text-sm text-slate-700 dark:text-slate-300">
        Erase a person&apos;s personal data (GDPR Art. 17) by destroying their keys: every sealed value about them — in PostgreSQL, archives, exports, bundles and backups — reads as{' '}
        <code>[erased]</code> for good, while every hash, checkpoint and proof still verifies. Refused while a legal hold covers any of their events or the retention policy still
        requires the records. The erasure is recorded in the trail with you as its actor.
      </p>
      <PersonalDataErasure initialSubject={typeof subject === 'string' ? subject : ''} />
    </div>
  );
}
