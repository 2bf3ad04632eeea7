'use client';
import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { csrfToken } from '@/lib/trpc.tsx';
import type { Me } from '@/server/services/session-info.ts';
import { TimeZoneSelect } from './time-zone.tsx';

export function ConsoleHeader({ me, nav }: { me: Me; nav: { href: string; label: string }[] }) {
  const pathname = usePathname();
  const router = useRouter();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);

  async function switchTenant(tenantId: string) {
    setError(null);
    const res = await fetch('/api/auth/tenant', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken() }, body: JSON.stringify({ tenant_id: tenantId }) });
    if (!res.ok) {
      setError((await res.json().catch(() => null))?.error?.message ?? 'Could not switch tenant');
      return;
    }
    queryClient.clear();
    router.push('/');
    router.refresh();
  }

  async function signOut() {
    await fetch('/api/auth/sign-out', { method: 'POST', headers: { 'x-csrf-token': csrfToken() } });
    queryClient.clear();
    router.replace('/sign-in');
    router.refresh();
  }

  const isActive = (href: string) => (href === '/' ? pathname === '/' : pathname.startsWith(href));

  return (
    <header className="border-b border-slate-200 bg-slate-50 dark:border-slate-800 dark:bg-slate-900">
      <div className="mx-auto flex max-w-[1600px] flex-wrap items-center gap-x-6 gap-y-2 px-4 py-2">
        <Link href="/" className="text-base font-semibold tracking-tight">
          oms-audit
        </Link>
        <nav aria-label="Console">
          <ul className="flex flex-wrap gap-1">
            {nav.map((item) => (
              <li key={item.href}>
                <Link
                  href={item.href}
                  aria-current={isActive(item.href) ? 'page' : undefined}
                  className={`rounded px-2 py-1 text-sm ${isActive(item.href) ? 'bg-blue-100 font-medium text-blue-900 dark:bg-blue-900/60 dark:text-blue-100' : 'text-slate-700 hover:bg-slate-200 dark:text-slate-300 dark:hover:bg-slate-800'}`}
                >
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="ml-auto flex items-center gap-3 text-sm">
          <TimeZoneSelect />
          {me.tenants.length > 1 ? (
            <div className="flex items-center gap-2">
              <label htmlFor="tenant-switch" className="text-slate-700 dark:text-slate-300">
                Tenant
              </label>
              <select id="tenant-switch" className="field-input w-auto" value={me.tenant?.id ?? ''} onChange={(e) => void switchTenant(e.target.value)}>
                {me.tenants.map((t) => (
                  <option key={t.id} value={t.id}>
                    {t.name} ({t.role})
                  </option>
                ))}
              </select>
            </div>
          ) : (
            <span className="text-slate-700 dark:text-slate-300" data-testid="tenant-name">
              {me.tenant?.name} <span className="text-slate-600 dark:text-slate-400">({me.tenant?.role})</span>
            </span>
          )}
          <Link href="/account" aria-current={pathname === '/account' ? 'page' : undefined} className="hidden text-slate-700 underline-offset-2 hover:underline sm:inline dark:text-slate-300" title="Your account: password and sessions">
            {me.user?.email}
          </Link>
          <button type="button" className="btn" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
        {error ? (
          <p role="alert" className="w-full text-sm text-red-700 dark:text-red-300">
            {error}
          </p>
        ) : null}
      </div>
    </header>
  );
}
