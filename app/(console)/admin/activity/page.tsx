import type { Metadata } from 'next';
import Link from 'next/link';
import { consoleSession } from '@/server/console.ts';
import { activitySentence } from '@/lib/activity-sentence.ts';
import { countOf } from '@/lib/count-words.ts';
import { Forbidden } from '@/components/console/forbidden.tsx';
import { Timestamp } from '@/components/console/timestamp.tsx';

export const metadata: Metadata = { title: 'Activity' };

const PAGE = 200;

/** Administration on the record: who changed access, keys, retention and holds, and who verified the trail. */
export default async function ActivityPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const session = (await consoleSession())!;
  if (!session.can('users:manage')) return <Forbidden what="The administration activity" role="admin" />;
  const asked = (await searchParams).cursor;
  const cursor = typeof asked === 'string' ? asked : undefined;
  const page = await session.api.events.activity({ limit: PAGE, cursor });
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Activity</h1>
      <p className="text-sm text-slate-700 dark:text-slate-300">
        Administration of this tenant as recorded in its trail, newest first: invitations, roles and removals, API keys, retention policy, legal holds and verification runs. Each entry is an event
        of the trail; open it for its proof. Months moved to the archive are searched from the search page.
      </p>
      {page.events.length === 0 ? (
        <p className="card p-6 text-center">No administration recorded{cursor ? ' before these' : ''}.</p>
      ) : (
        <div className="card overflow-x-auto">
          <table className="w-full text-sm" aria-label="Administration activity">
            <thead className="bg-slate-100 text-left dark:bg-slate-800">
              <tr>
                {['Time', 'Who', 'What', 'Outcome'].map((h) => (
                  <th key={h} scope="col" className="px-3 py-2">
                    {h}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {page.events.map((e) => (
                <tr key={e.id} className="border-t border-slate-200 dark:border-slate-700">
                  <td className="whitespace-nowrap px-3 py-2">
                    <Link href={`/events/${e.id}`} className="link">
                      <Timestamp iso={e.occurred_at} />
                    </Link>
                  </td>
                  <td className="px-3 py-2">
                    <Link href={`/actors/${encodeURIComponent(e.actor_id)}`} className="link">
                      {e.actor_id}
                    </Link>
                  </td>
                  <td className="px-3 py-2">{activitySentence(e)}</td>
                  <td className={`px-3 py-2 ${e.outcome === 'failure' ? 'font-medium text-red-700 dark:text-red-300' : ''}`}>{e.outcome}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className="text-sm">
        {countOf(page.events.length, 'entry', 'entries')} shown.{' '}
        {page.next_cursor ? (
          <Link className="link" href={`/admin/activity?cursor=${encodeURIComponent(page.next_cursor)}`}>
            Older entries
          </Link>
        ) : (
          'These are all.'
        )}
      </p>
    </div>
  );
}
