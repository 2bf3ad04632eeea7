'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { TENANT_ROLES, type TenantRole } from '@/server/auth/caller.ts';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import { formatUtc } from '@/lib/time.ts';

export function Users({ selfId }: { selfId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const list = useQuery(trpc.users.list.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const create = useMutation(trpc.users.create.mutationOptions({ onSuccess: refresh }));
  const setRole = useMutation(trpc.users.setRole.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.users.remove.mutationOptions({ onSuccess: refresh }));
  const [form, setForm] = useState<{ email: string; password: string; role: TenantRole }>({ email: '', password: '', role: 'viewer' });
  const failure = create.error ?? setRole.error ?? remove.error;

  return (
    <div className="space-y-4">
      <form
        className="card flex flex-wrap items-end gap-4 p-3"
        aria-label="Add a user"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate({ email: form.email, password: form.password || undefined, role: form.role }, { onSuccess: () => setForm({ email: '', password: '', role: form.role }) });
        }}
      >
        <div>
          <label htmlFor={`${id}-email`} className="field-label">
            Email
          </label>
          <input id={`${id}-email`} type="email" className="field-input" value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} required />
        </div>
        <div>
          <label htmlFor={`${id}-password`} className="field-label">
            Initial password
          </label>
          <input id={`${id}-password`} type="password" autoComplete="new-password" className="field-input" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} aria-describedby={`${id}-password-hint`} />
          <p id={`${id}-password-hint`} className="mt-0.5 text-[11px] text-slate-600 dark:text-slate-400">
            At least 10 characters; not needed for an existing user
          </p>
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
        <button type="submit" className="btn-primary" disabled={create.isPending}>
          Add user
        </button>
      </form>
      {failure ? (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {errorMessage(failure)}
        </p>
      ) : null}
      {create.data ? (
        <p role="status" className="text-sm">
          {create.data.created ? 'Created' : 'Added'} {create.data.member.email} as {create.data.member.role}.
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
                <td className="px-3 py-2 tabular-nums">{formatUtc(m.created_at)}</td>
                <td className="px-3 py-2">{m.created_by ?? '—'}</td>
                <td className="px-3 py-2 text-right">
                  <button
                    type="button"
                    className="btn-danger"
                    aria-label={`Remove ${m.email} from this tenant`}
                    onClick={() => {
                      if (window.confirm(`Remove ${m.email} from this tenant?`)) remove.mutate({ user_id: m.user_id });
                    }}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
