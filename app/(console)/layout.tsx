import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { REQUESTED_PATH_HEADER, signInPathFor } from '@/lib/safe-next.ts';
import { consoleSession } from '@/server/console.ts';
import { ConsoleProviders } from '@/lib/trpc.tsx';
import { ConsoleHeader } from '@/components/console/header.tsx';
import { TimeZoneProvider } from '@/components/console/time-zone.tsx';
import { ZONE_COOKIE } from '@/lib/time.ts';
import { NAV_ITEMS } from './nav.ts';

export const dynamic = 'force-dynamic';

export default async function ConsoleLayout({ children }: { children: React.ReactNode }) {
  const session = await consoleSession();
  if (!session) redirect(signInPathFor((await headers()).get(REQUESTED_PATH_HEADER)));
  const nav = NAV_ITEMS.filter((item) => session.can(item.permission)).map(({ href, label }) => ({ href, label }));
  return (
    <ConsoleProviders>
      <TimeZoneProvider initial={(await cookies()).get(ZONE_COOKIE)?.value ?? 'UTC'}>
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-1 dark:focus:bg-slate-900">
        Skip to content
      </a>
      <ConsoleHeader me={session.me} nav={nav} />
      <main id="main" className="mx-auto w-full max-w-[1600px] px-4 py-3">
        {session.me.tenant ? children : <p role="alert">You have no role in any tenant yet. Ask an admin to add you.</p>}
      </main>
      </TimeZoneProvider>
    </ConsoleProviders>
  );
}
