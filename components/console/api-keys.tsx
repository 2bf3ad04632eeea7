'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import { Timestamp } from './timestamp.tsx';

export function ApiKeys() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const list = useQuery(trpc.apiKeys.list.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.apiKeys.list.queryKey() });
  const create = useMutation(trpc.apiKeys.create.mutationOptions({ onSuccess: refresh }));
  const revoke = useMutation(trpc.apiKeys.revoke.mutationOptions({ onSuccess: refresh }));
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<('events:write' | 'events:read')[]>(['events:write']);

  return (
    <div className="space-y-4">
      <form
        className="card flex flex-wrap items-end gap-4 p-3"
        aria-label="Create an API key"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate({ name, scopes });
        }}
      >
        <div>
          <label htmlFor={`${id}-name`} className="field-label">
            Key name
          </label>
          <input id={`${id}-name`} className="field-input" value={name} onChange={(e) => setName(e.target.value)} required placeholder="order-gateway production" />
        </div>
        <fieldset className="flex gap-3 text-sm">
          <legend className="field-label">Scopes</legend>
          {(['events:write', 'events:read'] as const).map((s) => (
            <label key={s} className="flex items-center gap-1">
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))} />
              {s}
            </label>
          ))}
        </fieldset>
        <button type="submit" className="btn-primary" disabled={create.isPending || !scopes.length}>
          Create key
        </button>
        {create.isError ? <p role="alert" className="text-sm text-red-700 dark:text-red-300">{errorMessage(create.error)}</p> : null}
      </form>

      {create.data ? (
        <div role="status" className="card border-amber-400 bg-amber-50 p-3 text-sm dark:border-amber-600 dark:bg-amber-950">
          <p className="font-medium">Copy the key now: it is shown only once.</p>
          <div className="mt-2 flex items-center gap-2">
            <label htmlFor={`${id}-secret`} className="sr-only">
              New API key
            </label>
            <input id={`${id}-secret`} readOnly value={create.data.key} className="field-input max-w-xl font-mono" onFocus={(e) => e.currentTarget.select()} />
            <button type="button" className="btn" onClick={() => void navigator.clipboard?.writeText(create.data!.key)}>
              Copy
            </button>
          </div>
        </div>
      ) : null}

      {list.isPending ? (
        <div className="skeleton h-32" aria-busy="true" aria-label="Loading API keys" />
      ) : list.isError ? (
        <p role="alert">{errorMessage(list.error)}</p>
      ) : list.data.length === 0 ? (
        <p className="card p-8 text-center text-slate-700 dark:text-slate-300">No API keys yet. Apps need one to log events.</p>
      ) : (
        <table className="card w-full text-sm">
          <caption className="sr-only">API keys of this tenant</caption>
          <thead className="bg-slate-100 text-left dark:bg-slate-800">
            <tr>
              <th scope="col" className="px-3 py-2">Name</th>
              <th scope="col" className="px-3 py-2">Key</th>
              <th scope="col" className="px-3 py-2">Scopes</th>
              <th scope="col" className="px-3 py-2">Created (UTC)</th>
              <th scope="col" className="px-3 py-2">Last used (UTC)</th>
              <th scope="col" className="px-3 py-2">Status</th>
              <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((k) => (
              <tr key={k.id} className="border-t border-slate-200 dark:border-slate-700">
                <td className="px-3 py-2 font-medium">{k.name}</td>
                <td className="px-3 py-2 font-mono text-xs">{k.prefix}…</td>
                <td className="px-3 py-2">{k.scopes.join(', ')}</td>
                <td className="px-3 py-2 tabular-nums"><Timestamp iso={k.created_at} /></td>
                <td className="px-3 py-2 tabular-nums">{k.last_used_at ? <Timestamp iso={k.last_used_at} /> : 'never'}</td>
                <td className="px-3 py-2">{k.revoked_at ? <span className="text-red-700 dark:text-red-300">revoked</span> : 'active'}</td>
                <td className="px-3 py-2 text-right">
                  {k.revoked_at ? null : (
                    <button
                      type="button"
                      className="btn-danger"
                      aria-label={`Revoke key ${k.name}`}
                      onClick={() => {
                        if (window.confirm(`Revoke "${k.name}"? Apps using it stop working at once.`)) revoke.mutate({ id: k.id });
                      }}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {revoke.isError ? <p role="alert" className="text-sm text-red-700 dark:text-red-300">{errorMessage(revoke.error)}</p> : null}
    </div>
  );
}
