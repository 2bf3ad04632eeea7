import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { safeNextPath } from '@/lib/safe-next.ts';
import { consoleSession } from '@/server/console.ts';
import { SignInForm } from './sign-in-form.tsx';

export const metadata: Metadata = { title: 'Sign in' };
export const dynamic = 'force-dynamic';

export default async function SignInPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const asked = (await searchParams).next;
  // Only a path on this site: anything a browser could read as another origin becomes "/".
  const next = safeNextPath(typeof asked === 'string' ? asked : null);
  if (await consoleSession()) redirect(next);
  return (
    <main id="main" className="flex min-h-screen items-center justify-center px-4">
      <div className="card w-full max-w-sm p-6 shadow-sm">
        <h1 className="text-xl font-semibold">Sign in to oms-audit</h1>
        <p className="mt-1 text-sm text-slate-700 dark:text-slate-300">The audit trail of your order management systems.</p>
        <SignInForm next={next} />
      </div>
    </main>
  );
}
