'use client';
/**
 * The Users page: invite people (the one-time link is shown once, with a copy
 * button), withdraw pending invitations, and manage members — role, disable /
 * enable in this tenant, remove. No one here sets or sees a password.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { TENANT_ROLES, type TenantRole } from '@/server/auth/caller.ts';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import { Timestamp } from './timestamp.tsx';

function InviteForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [form, setForm] = useState<{ email: string; role: TenantRole }>({ email: '', role: 'viewer' });
  const [copied, setCopied] = useState(false);
  const invite = useMutation(
    trpc.users.invite.mutationOptions({
      onSuccess: () => {
        setCopied(false);
        setForm((f) => ({ ...f, email: '' }));
        return queryClient.invalidateQueries({ queryKey: trpc.users.invitations.queryKey() });
      },
    }),
  );
  const link = invite.data ? `${window.location.origin}${invite.data.path}` : '';

  return (
    <div className="space-y-3">
      <form
        className="card flex flex-wrap items-end gap-4 p-3"
        aria-label="Invite a person"
        onSubmit={(e) => {
          e.preventDefault();
          invite.mutate(form);
        }}
      >
        <div>
          <label htmlFor={`${id}-email`} className="field-label">
            Email
          </label>
          <input id={`${id}-email`} type="email" className="field-input" value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} required />
        </div>
        <div>
          <label htmlFor={`${id}-role`} className="field-label">
            Role
          </label>
          <select id={`${id}-role`} className="field-input" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as TenantRole })}>
            {TENANT_ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </div>
        <button type="submit" className="btn-primary" disabled={invite.isPending}>
          Invite
        </button>
        <p className="w-full text-[11px] text-slate-600 dark:text-slate-400">
          The person opens the link within 72 hours and chooses their own password, or joins with the oms-audit account they already have.
        </p>
      </form>
      {invite.isError ? (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {errorMessage(invite.error)}
        </p>
      ) : null}
      {invite.data ? (
        <div role="status" className="card border-amber-400 bg-amber-50 p-3 text-sm dark:border-amber-600 dark:bg-amber-950">
          <p className="font-medium">
            Invitation for {invite.data.invitation.email} as {invite.data.invitation.role}.{' '}
            {invite.data.mailed ? 'It was mailed to them; the link is also here, once.' : 'Send them this link yourself: it is shown only once.'}
          </p>
          <div className="mt-2 flex items-center gap-2">
            <label htmlFor={`${id}-link`} className="sr-only">
              Invitation link
            </label>
            <input id={`${id}-link`} readOnly value={link} className="field-input max-w-2xl font-mono text-xs" onFocus={(e) => e.currentTarget.select()} />
            <button
              type="button"
              className="btn"
              onClick={() => {
                void navigator.clipboard?.writeText(link).then(() => setCopied(true));
              }}
            >
              {copied ? 'Copied' : 'Copy link'}
            </button>
          </div>
        </div>
      ) : null}
    </div>
  );
}

function Invitations() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.users.invitations.queryOptions());
  const revoke = useMutation(trpc.users.revokeInvitation.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.users.invitations.queryKey() }) }));
  const open = list.data?.filter((i) => i.status === 'pending' || i.status === 'expired') ?? [];

  return (
    <section aria-labelledby="invitations-heading" className="space-y-2">
      <h2 id="invitations-heading" className="text-base font-semibold">
        Invitations
      </h2>
      {list.isPending ? (
        <div className="skeleton h-16" aria-busy="true" aria-label="Loading invitations" />
      ) : list.isError ? (
        <p role="alert">{errorMessage(list.error)}</p>
      ) : open.length === 0 ? (
        <p className="text-sm text-slate-700 dark:text-slate-300">No invitation is waiting.</p>
      ) : (
        <table className="card w-full text-sm">
          <caption className="sr-only">Invitations not yet accepted</caption>
          <thead className="bg-slate-100 text-left dark:bg-slate-800">
            <tr>
              <th scope="col" className="px-3 py-2">Email</th>
              <th scope="col" className="px-3 py-2">Role</th>
              <th scope="col" className="px-3 py-2">Invited (UTC)</th>
              <th scope="col" className="px-3 py-2">By</th>
              <th scope="col" className="px-3 py-2">Expires (UTC)</th>
              <th scope="col" className="px-3 py-2">Status</th>
              <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {open.map((i) => (
              <tr key={i.id} className="border-t border-slate-200 dark:border-slate-700">
                <td className="px-3 py-2 font-medium">{i.email}</td>
                <td className="px-3 py-2">{i.role}</td>
                <td className="px-3 py-2 tabular-nums"><Timestamp iso={i.created_at} /></td>
                <td className="px-3 py-2">{i.created_by}</td>
                <td className="px-3 py-2 tabular-nums"><Timestamp iso={i.expires_at} /></td>
                <td className="px-3 py-2">{i.status === 'expired' ? <span className="text-red-700 dark:text-red-300">expired</span> : 'pending'}</td>
                <td className="px-3 py-2 text-right">
                  {i.status === 'pending' ? (
                    <button type="button" className="btn-danger" aria-label={`Withdraw the invitation of ${i.email}`} onClick={() => revoke.mutate({ id: i.id })}>
                      Withdraw
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {revoke.isError ? (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {errorMessage(revoke.error)}
        </p>
      ) : null}
    </section>
  );
}

function ConfirmedButton({ label, name, question, danger, onConfirm }: { label: string; name: string; question: string; danger?: boolean; onConfirm: () => void }) {
  return (
    <button type="button" className={danger ? 'btn-danger' : 'btn'} aria-label={name} onClick={() => window.confirm(question) && onConfirm()}>
      {label}
    </button>
  );
}

function Members({ selfId }: { selfId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const list = useQuery(trpc.users.list.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const setRole = useMutation(trpc.users.setRole.mutationOptions({ onSuccess: refresh }));
  const disable = useMutation(trpc.users.disable.mutationOptions({ onSuccess: refresh }));
  const enable = useMutation(trpc.users.enable.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.users.remove.mutationOptions({ onSuccess: refresh }));
  const failure = setRole.error ?? disable.error ?? enable.error ?? remove.error;

  return (
    <section aria-labelledby="members-heading" className="space-y-2">
      <h2 id="members-heading" className="text-base font-semibold">
        Members
      </h2>
      {failure ? (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {errorMessage(failure)}
        </p>
      ) : null}
      {list.isPending ? (
        <div className="skeleton h-32" aria-busy="true" aria-label="Loading users" />
      ) : list.isError ? (
        <p role="alert">{errorMessage(list.error)}</p>
      ) : (
        <table className="card w-full text-sm">
          <caption className="sr-only">Users of this tenant</caption>
          <thead className="bg-slate-100 text-left dark:bg-slate-800">
            <tr>
              <th scope="col" className="px-3 py-2">Email</th>
              <th scope="col" className="px-3 py-2">Role</th>
              <th scope="col" className="px-3 py-2">Status</th>
              <th scope="col" className="px-3 py-2">Member since (UTC)</th>
              <th scope="col" className="px-3 py-2">Added by</th>
              <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((m) => (
              <tr key={m.user_id} className="border-t border-slate-200 dark:border-slate-700">
                <td className="px-3 py-2 font-medium">
                  {m.email}
                  {m.user_id === selfId ? <span className="ml-1 text-slate-600 dark:text-slate-400">(you)</span> : null}
                </td>
                <td className="px-3 py-2">
                  <label htmlFor={`${id}-role-${m.user_id}`} className="sr-only">
                    Role of {m.email}
                  </label>
                  <select id={`${id}-role-${m.user_id}`} className="field-input w-auto" value={m.role} onChange={(e) => setRole.mutate({ user_id: m.user_id, role: e.target.value as TenantRole })}>
                    {TENANT_ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td className="px-3 py-2" data-testid={`status-${m.email}`}>
                  {m.disabled_at ? <span className="text-red-700 dark:text-red-300">disabled since <Timestamp iso={m.disabled_at} /></span> : 'active'}
                </td>
                <td className="px-3 py-2 tabular-nums"><Timestamp iso={m.created_at} /></td>
                <td className="px-3 py-2">{m.created_by ?? '—'}</td>
                <td className="space-x-2 px-3 py-2 text-right whitespace-nowrap">
                  {m.disabled_at ? (
                    <button type="button" className="btn" aria-label={`Enable ${m.email} in this tenant`} onClick={() => enable.mutate({ user_id: m.user_id })}>
                      Enable
                    </button>
                  ) : (
                    <ConfirmedButton label="Disable" name={`Disable ${m.email} in this tenant`} question={`Disable ${m.email}? Their sessions stop reaching this tenant at once.`} onConfirm={() => disable.mutate({ user_id: m.user_id })} />
                  )}
                  <ConfirmedButton label="Remove" danger name={`Remove ${m.email} from this tenant`} question={`Remove ${m.email} from this tenant?`} onConfirm={() => remove.mutate({ user_id: m.user_id })} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function Users({ selfId }: { selfId: string }) {
  return (
    <div className="space-y-6">
      <InviteForm />
      <Invitations />
      <Members selfId={selfId} />
    </div>
  );
}
