'use client';
/** The Account page: change your own password, see your sessions, end one or all of them. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useId, useState } from 'react';
import { csrfToken, errorMessage, useTRPC } from '@/lib/trpc.tsx';
import { Timestamp } from './timestamp.tsx';
import { formatUtc } from '@/lib/time.ts';

function ChangePassword() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [form, setForm] = useState({ current: '', next: '', repeat: '' });
  const [mismatch, setMismatch] = useState(false);
  const change = useMutation(
    trpc.account.changePassword.mutationOptions({
      onSuccess: () => {
        setForm({ current: '', next: '', repeat: '' });
        return queryClient.invalidateQueries({ queryKey: trpc.account.sessions.queryKey() });
      },
    }),
  );
  return (
    <section aria-labelledby={`${id}-heading`} className="space-y-2">
      <h2 id={`${id}-heading`} className="text-base font-semibold">
        Change password
      </h2>
      <form
        className="card flex max-w-md flex-col gap-3 p-3"
        aria-label="Change password"
        onSubmit={(e) => {
          e.preventDefault();
          setMismatch(form.next !== form.repeat);
          if (form.next === form.repeat) change.mutate({ current_password: form.current, new_password: form.next });
        }}
      >
        <div>
          <label htmlFor={`${id}-current`} className="field-label">
            Current password
          </label>
          <input id={`${id}-current`} type="password" autoComplete="current-password" className="field-input" value={form.current} onChange={(e) => setForm({ ...form, current: e.target.value })} required />
        </div>
        <div>
          <label htmlFor={`${id}-next`} className="field-label">
            New password
          </label>
          <input id={`${id}-next`} type="password" autoComplete="new-password" minLength={10} className="field-input" value={form.next} onChange={(e) => setForm({ ...form, next: e.target.value })} required aria-describedby={`${id}-hint`} />
          <p id={`${id}-hint`} className="mt-0.5 text-[11px] text-slate-600 dark:text-slate-400">
            At least 10 characters. Your other sessions end when you change it.
          </p>
        </div>
        <div>
          <label htmlFor={`${id}-repeat`} className="field-label">
            Repeat the new password
          </label>
          <input id={`${id}-repeat`} type="password" autoComplete="new-password" className="field-input" value={form.repeat} onChange={(e) => setForm({ ...form, repeat: e.target.value })} required />
        </div>
        <button type="submit" className="btn-primary self-start" disabled={change.isPending}>
          Change password
        </button>
        {mismatch ? (
          <p role="alert" className="text-sm text-red-700 dark:text-red-300">
            The two new passwords differ.
          </p>
        ) : change.isError ? (
          <p role="alert" className="text-sm text-red-700 dark:text-red-300">
            {errorMessage(change.error)}
          </p>
        ) : change.data ? (
          <p role="status" className="text-sm">
            Password changed; {change.data.ended_sessions === 1 ? '1 other session' : `${change.data.ended_sessions} other sessions`} ended.
          </p>
        ) : null}
      </form>
    </section>
  );
}

function Sessions() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const list = useQuery(trpc.account.sessions.queryOptions());
  const end = useMutation(trpc.account.endSession.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.account.sessions.queryKey() }) }));
  const [error, setError] = useState<string | null>(null);

  async function signOutEverywhere() {
    setError(null);
    const res = await fetch('/api/auth/sign-out', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken() }, body: JSON.stringify({ everywhere: true }) });
    if (!res.ok) {
      setError((await res.json().catch(() => null))?.error?.message ?? 'Could not sign out everywhere');
      return;
    }
    queryClient.clear();
    router.replace('/sign-in');
    router.refresh();
  }

  return (
    <section aria-labelledby="sessions-heading" className="space-y-2">
      <h2 id="sessions-heading" className="text-base font-semibold">
        Your sessions
      </h2>
      {list.isPending ? (
        <div className="skeleton h-16" aria-busy="true" aria-label="Loading sessions" />
      ) : list.isError ? (
        <p role="alert">{errorMessage(list.error)}</p>
      ) : (
        <table className="card w-full text-sm">
          <caption className="sr-only">Your active sessions</caption>
          <thead className="bg-slate-100 text-left dark:bg-slate-800">
            <tr>
              <th scope="col" className="px-3 py-2">Signed in (UTC)</th>
              <th scope="col" className="px-3 py-2">How</th>
              <th scope="col" className="px-3 py-2">From</th>
              <th scope="col" className="px-3 py-2">Browser</th>
              <th scope="col" className="px-3 py-2">Expires (UTC)</th>
              <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((s) => (
              <tr key={s.id} className="border-t border-slate-200 dark:border-slate-700">
                <td className="px-3 py-2 tabular-nums">
                  <Timestamp iso={s.created_at} />
                  {s.current ? <span className="ml-1 font-medium">(this session)</span> : null}
                </td>
                <td className="px-3 py-2">{s.method}</td>
                <td className="px-3 py-2 font-mono text-xs">{s.ip ?? '—'}</td>
                <td className="max-w-md truncate px-3 py-2" title={s.user_agent ?? undefined}>
                  {s.user_agent ?? '—'}
                </td>
                <td className="px-3 py-2 tabular-nums"><Timestamp iso={s.expires_at} /></td>
                <td className="px-3 py-2 text-right">
                  {s.current ? null : (
                    <button type="button" className="btn" aria-label={`End the session signed in at ${formatUtc(s.created_at)}`} onClick={() => end.mutate({ id: s.id })}>
                      End
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <button type="button" className="btn-danger" onClick={() => void signOutEverywhere()}>
        Sign out everywhere
      </button>
      {error || end.isError ? (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {error ?? errorMessage(end.error)}
        </p>
      ) : null}
    </section>
  );
}

export function Account() {
  return (
    <div className="space-y-6">
      <ChangePassword />
      <Sessions />
    </div>
  );
}
