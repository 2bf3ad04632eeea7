import type { Metadata } from 'next';
import { consoleSession } from '@/server/console.ts';
import { IntegrityStatus } from '@/components/console/integrity-status.tsx';

export const metadata: Metadata = { title: 'Integrity' };

export default async function IntegrityPage() {
  const session = (await consoleSession())!;
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Integrity</h1>
      <p className="max-w-3xl text-sm text-slate-700 dark:text-slate-300">
        Every event is hashed when it is written and sealed within seconds under a checkpoint signed with the operator&apos;s Ed25519 key; each
        checkpoint links to the one before. Verification recomputes every hash, Merkle root, link and signature, in PostgreSQL and in archived
        months, and names the first event or checkpoint that departs from what was signed: &ldquo;Verify now&rdquo; checks what was sealed since
        the last signed, intact verification, &ldquo;Full verification&rdquo; everything (the server runs both on a schedule). Each checkpoint is also written once outside the
        database, so a trail cut short or re-signed there is found too, and customers can pin their own monitors to the key below.
      </p>
      <IntegrityStatus canVerify={session.can('integrity:verify')} />
    </div>
  );
}
