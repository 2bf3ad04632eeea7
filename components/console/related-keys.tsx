'use client';
/**
 * The whole order's keys on the System page: the context keys under which
 * this tenant's events name their order (a fill's order_id, a child's
 * parent_order_id, …). Every order's page, its export and "everything about
 * this order" read them. Admins change them here; the change is an
 * administration event (Activity) with the keys before and after.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import { Timestamp } from './timestamp.tsx';

function KeysForm({ keys }: { keys: string[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const hint = useId();
  const [text, setText] = useState(keys.join(', '));
  const save = useMutation(trpc.relatedKeys.set.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.relatedKeys.get.queryKey() }) }));
  return (
    <form
      className="flex flex-wrap items-end gap-3 text-sm"
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate({ keys: text.split(/[\s,]+/).filter(Boolean) });
      }}
    >
      <label className="flex min-w-72 flex-1 flex-col">
        Context keys, separated by commas
        <input className="field-input font-mono" required value={text} aria-describedby={hint} onChange={(e) => setText(e.target.value)} data-testid="related-keys-input" />
      </label>
      <button className="btn" type="submit" disabled={save.isPending}>
        Save keys
      </button>
      <p id={hint} className="w-full text-xs text-slate-700 dark:text-slate-300">
        1 to 10 field names of letters, digits and underscores. order_id, parent_order_id, client_order_id, symbol and account are indexed; other keys are read by scanning the tenant&apos;s events.
      </p>
      {save.isError ? <p role="alert">{errorMessage(save.error)}</p> : null}
      {save.isSuccess ? <p role="status">Saved; every order&apos;s page and export now reads these keys. The change is in Activity.</p> : null}
    </form>
  );
}

export function RelatedKeys({ canManage }: { canManage: boolean }) {
  const trpc = useTRPC();
  const current = useQuery(trpc.relatedKeys.get.queryOptions());
  if (current.isPending) return <div className="skeleton h-24" aria-busy="true" aria-label="Loading the whole order's keys" />;
  if (current.isError) return <p role="alert">{errorMessage(current.error)}</p>;
  const { keys, updated_at, updated_by } = current.data;
  return (
    <section className="card space-y-3 p-3" aria-labelledby="related-keys">
      <h2 id="related-keys" className="font-semibold">
        The whole order
      </h2>
      <p className="text-sm" data-testid="related-keys">
        An order&apos;s page gathers the events whose context names the order under{' '}
        {keys.map((k, i) => (
          <span key={k}>
            {i ? ', ' : ''}
            <code>{k}</code>
          </span>
        ))}{' '}
        — its fills, allocations and child orders — into one timeline and one export.{' '}
        {updated_at ? (
          <>
            Set <Timestamp iso={updated_at} />
            {updated_by ? ` by ${updated_by}` : ''}.
          </>
        ) : (
          'These are the default keys.'
        )}
      </p>
      {canManage ? <KeysForm keys={keys} /> : null}
    </section>
  );
}
