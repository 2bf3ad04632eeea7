'use client';
/**
 * Accepting an invitation: reads the secret from the link's fragment, shows
 * what it offers, and lets the person choose a password for a new account,
 * join with the password of the account they have, or — signed in as the
 * invited email — accept with one click.
 */
import { useRouter } from 'next/navigation';
import { useEffect, useId, useState } from 'react';
import { csrfToken } from '@/lib/trpc.tsx';

interface Offer {
  email: string;
  role: string;
  tenant_name: string;
  expires_at: string;
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ ok: boolean; body: { error?: { message?: string } } & Record<string, unknown> }> {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { ok: res.ok, body: await res.json().catch(() => ({})) };
}

function Alert({ children }: { children: React.ReactNode }) {
  return (
    <p role="alert" className="rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
      {children}
    </p>
  );
}

async function readInvitation(
  hash: string,
  set: { setToken: (t: string) => void; setOffer: (o: Offer) => void; setProblem: (p: string) => void },
): Promise<void> {
  const secret = decodeURIComponent(hash.replace(/^#/, ''));
  if (!secret) return set.setProblem('This page needs the whole invitation link: open the link from your invitation again.');
  set.setToken(secret);
  const r = await post('/api/auth/invitation', { token: secret });
  if (r.ok) set.setOffer(r.body as unknown as Offer);
  else set.setProblem(r.body.error?.message ?? 'This invitation cannot be used');
}

export function AcceptInvitation({ signedInAs }: { signedInAs: string | null }) {
  const id = useId();
  const router = useRouter();
  const [token, setToken] = useState<string | null>(null);
  const [offer, setOffer] = useState<Offer | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void readInvitation(window.location.hash, { setToken, setOffer, setProblem });
  }, []);

  async function accept(as: 'new_account' | 'existing_account' | 'signed_in', password?: string) {
    setBusy(true);
    setError(null);
    try {
      const r = await post('/api/auth/invitation/accept', { token, as, password }, as === 'signed_in' ? { 'x-csrf-token': csrfToken() } : {});
      if (!r.ok) {
        setError(r.body.error?.message ?? 'The invitation could not be accepted');
        return;
      }
      // The link's secret is spent: leave no trace of it in the history.
      window.history.replaceState(null, '', '/invitation');
      router.replace('/');
      router.refresh();
    } catch {
      setError('The server cannot be reached');
    } finally {
      setBusy(false);
    }
  }

  if (problem) return <div className="mt-4"><Alert>{problem}</Alert></div>;
  if (!offer) return <p className="mt-4 text-sm" aria-busy="true">Reading the invitation…</p>;

  const intro = (
    <p className="mt-2 text-sm text-slate-700 dark:text-slate-300" data-testid="invitation-offer">
      <strong>{offer.tenant_name}</strong> invites <strong>{offer.email}</strong> as <strong>{offer.role}</strong>. The link works once, until {offer.expires_at.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')} UTC.
    </p>
  );

  if (signedInAs) {
    return (
      <div className="mt-2 space-y-4">
        {intro}
        {signedInAs === offer.email ? (
          <button type="button" className="btn-primary w-full justify-center py-2" disabled={busy} onClick={() => void accept('signed_in')}>
            Join {offer.tenant_name} as {signedInAs}
          </button>
        ) : (
          <div className="space-y-2">
            <p role="status" className="text-sm">
              You are signed in as {signedInAs}. This invitation is for {offer.email}: sign out first to accept it.
            </p>
            <button
              type="button"
              className="btn w-full justify-center py-2"
              onClick={() => {
                // The link stays in the address bar: after signing out, this page offers the invitation again.
                void fetch('/api/auth/sign-out', { method: 'POST', headers: { 'x-csrf-token': csrfToken() } }).then(() => window.location.reload());
              }}
            >
              Sign out of {signedInAs}
            </button>
          </div>
        )}
        {error ? <Alert>{error}</Alert> : null}
      </div>
    );
  }

  return (
    <div className="mt-2 space-y-5">
      {intro}
      <form
        className="space-y-3"
        aria-label="Choose your password"
        onSubmit={(e) => {
          e.preventDefault();
          const form = new FormData(e.currentTarget);
          if (form.get('password') !== form.get('repeat')) {
            setError('The two passwords differ.');
            return;
          }
          void accept('new_account', String(form.get('password')));
        }}
      >
        <h2 className="text-base font-semibold">New to oms-audit? Choose your password</h2>
        <div>
          <label htmlFor={`${id}-new`} className="field-label">
            New password
          </label>
          <input id={`${id}-new`} name="password" type="password" autoComplete="new-password" minLength={10} required className="field-input" aria-describedby={`${id}-hint`} />
          <p id={`${id}-hint`} className="mt-0.5 text-[11px] text-slate-600 dark:text-slate-400">
            At least 10 characters. Only you know it: no admin sees or sets it.
          </p>
        </div>
        <div>
          <label htmlFor={`${id}-repeat`} className="field-label">
            Repeat the password
          </label>
          <input id={`${id}-repeat`} name="repeat" type="password" autoComplete="new-password" required className="field-input" />
        </div>
        <button type="submit" className="btn-primary w-full justify-center py-2" disabled={busy}>
          Create my account and join
        </button>
      </form>
      <form
        className="space-y-3 border-t border-slate-200 pt-4 dark:border-slate-700"
        aria-label="Join with your existing account"
        onSubmit={(e) => {
          e.preventDefault();
          void accept('existing_account', String(new FormData(e.currentTarget).get('password')));
        }}
      >
        <h2 className="text-base font-semibold">Already have an oms-audit account?</h2>
        <div>
          <label htmlFor={`${id}-existing`} className="field-label">
            Password of {offer.email}
          </label>
          <input id={`${id}-existing`} name="password" type="password" autoComplete="current-password" required className="field-input" />
        </div>
        <button type="submit" className="btn w-full justify-center py-2" disabled={busy}>
          Sign in and join
        </button>
      </form>
      {error ? <Alert>{error}</Alert> : null}
    </div>
  );
}
