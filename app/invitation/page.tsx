import type { Metadata } from 'next';
import { consoleSession } from '@/server/console.ts';
import { AcceptInvitation } from './accept-invitation.tsx';

export const metadata: Metadata = { title: 'Accept an invitation' };
export const dynamic = 'force-dynamic';

/** Opened from an invitation link (`/invitation#<secret>`): the secret stays in the browser until the person acts. */
export default async function InvitationPage() {
  const session = await consoleSession();
  const signedInAs = session?.caller.kind === 'user' && session.caller.sessionId ? session.caller.email : null;
  return (
    <main id="main" className="flex min-h-screen items-center justify-center px-4">
      <div className="card w-full max-w-md p-6 shadow-sm">
        <h1 className="text-xl font-semibold">Join an audit trail on oms-audit</h1>
        <AcceptInvitation signedInAs={signedInAs} />
      </div>
    </main>
  );
}
