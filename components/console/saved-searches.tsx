'use client';
import Link from 'next/link';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import { Timestamp } from './timestamp.tsx';

export function SavedSearches({ userId, isAdmin }: { userId: string; isAdmin: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.savedSearches.list.queryOptions());
  const remove = useMutation(trpc.savedSearches.remove.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.savedSearches.list.queryKey() }) }));

  if (list.isPending) return <div className="skeleton h-32" aria-busy="true" aria-label="Loading saved searches" />;
  if (list.isError) return <p role="alert">{errorMessage(list.error)}</p>;
  if (!list.data.length) {
    return (
      <div className="card p-8 text-center text-slate-700 dark:text-slate-300">
        <p className="font-medium">No saved searches yet.</p>
        <p className="mt-1 text-sm">
          Set filters on the{' '}
          <Link href="/" className="link">
            search page
          </Link>{' '}
          and choose “Save search”: everyone in this tenant will see it here.
        </p>
      </div>
    );
  }
  return (
    <>
      {remove.isError ? <p role="alert" className="text-sm text-red-700 dark:text-red-300">{errorMessage(remove.error)}</p> : null}
      <table className="card w-full text-sm">
        <caption className="sr-only">Saved searches of this tenant</caption>
        <thead className="bg-slate-100 text-left dark:bg-slate-800">
          <tr>
            <th scope="col" className="px-3 py-2">Name</th>
            <th scope="col" className="px-3 py-2">Filters</th>
            <th scope="col" className="px-3 py-2">Saved by</th>
            <th scope="col" className="px-3 py-2">Saved (UTC)</th>
            <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {list.data.map((s) => (
            <tr key={s.id} className="border-t border-slate-200 dark:border-slate-700">
              <td className="px-3 py-2">
                <Link className="link font-medium" href={`/?${s.query}`}>
                  {s.name}
                </Link>
              </td>
              <td className="max-w-md truncate px-3 py-2 font-mono text-xs">{readable(s.query) || 'all events'}</td>
              <td className="px-3 py-2">{s.created_by_email}</td>
              <td className="px-3 py-2"><Timestamp iso={s.created_at} /></td>
              <td className="px-3 py-2 text-right">
                {s.created_by === userId || isAdmin ? (
                  <button type="button" className="btn-danger" onClick={() => remove.mutate({ id: s.id })} aria-label={`Delete saved search ${s.name}`}>
                    Delete
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function readable(query: string): string {
  try {
    return decodeURIComponent(query.replace(/\+/g, ' '));
  } catch {
    return query;
  }
}
