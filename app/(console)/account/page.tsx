import type { Metadata } from 'next';
import { consoleSession } from '@/server/console.ts';
import { Account } from '@/components/console/account.tsx';

export const metadata: Metadata = { title: 'Your account' };

export default async function AccountPage() {
  const session = (await consoleSession())!;
  const local = session.caller.kind === 'user' && Boolean(session.caller.sessionId);
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Your account</h1>
      <p className="text-sm text-slate-700 dark:text-slate-300">
        Signed in as <strong>{session.me.user?.email}</strong>. Your password and sessions are yours alone: no admin sets or sees them.
      </p>
      {local ? <Account /> : <p role="status">Your sign-in comes from your organisation&apos;s identity provider: manage your password and sessions there.</p>}
    </div>
  );
}
