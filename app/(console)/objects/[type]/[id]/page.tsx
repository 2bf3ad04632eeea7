import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { LIMITS, typeName } from '@/supabase/functions/_shared/contract.ts';
import { consoleSession } from '@/server/console.ts';
import { beforeAfter } from '@/lib/diff.ts';
import { serializeSearch } from '@/lib/search-params.ts';
import { DiffTable } from '@/components/console/diff-table.tsx';
import { StateAsOf } from '@/components/console/state-as-of.tsx';
import { Timestamp } from '@/components/console/timestamp.tsx';

export const metadata: Metadata = { title: 'Object timeline' };

/** Pages of 1000 read for a timeline; beyond this the search page takes over. */
const MAX_PAGES = 10;

export default async function ObjectTimeline({ params }: { params: Promise<{ type: string; id: string }> }) {
  const { type, id } = await params;
  // A type that cannot exist (`<script>`, a malformed escape) is a page that does not exist, not an error.
  const parsedType = typeName.safeParse(decodeOrNull(type));
  const objectId = decodeOrNull(id);
  if (!parsedType.success || !objectId || objectId.length > LIMITS.identifierLength) notFound();
  const objectType = parsedType.data;
  const session = (await consoleSession())!;
  const events = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await session.api.events.objectHistory({ object_type: objectType, object_id: objectId, order: 'asc', limit: 1000, cursor });
    events.push(...result.events);
    if (!result.next_cursor) break;
    cursor = result.next_cursor;
  }
  const truncated = Boolean(cursor) && events.length >= MAX_PAGES * 1000;

  return (
    <div className="space-y-4">
      <nav aria-label="Breadcrumb" className="text-sm">
        <Link href="/" className="link">
          Search
        </Link>{' '}
        / Object timeline
      </nav>
      <header className="flex flex-wrap items-baseline gap-3">
        <h1 className="text-xl font-semibold">
          {objectType} {objectId}
        </h1>
        <span className="text-sm text-slate-700 dark:text-slate-300">{events.length.toLocaleString('en-US')} events, oldest first</span>
        <Link className="link text-sm" href={`/${serializeSearch({ object_type: objectType, object_id: objectId, order: 'asc' })}`}>
          Open in search
        </Link>
      </header>
      {events.length === 0 ? (
        <p className="card p-6 text-center text-slate-700 dark:text-slate-300">No events for this object in this tenant.</p>
      ) : (
        <>
          <StateAsOf events={events.map((e) => ({ id: e.id, occurred_at: e.occurred_at, event_type: e.event_type, context: e.context }))} />
          {truncated ? <p className="text-sm">Showing the first {events.length.toLocaleString('en-US')} events; open in search for the rest.</p> : null}
          <ol className="relative space-y-3 border-l-2 border-slate-200 pl-5 dark:border-slate-700" aria-label="Timeline">
            {events.map((e) => {
              const pair = beforeAfter(e.context);
              return (
                <li key={e.id} className="card relative p-3">
                  <span aria-hidden className={`absolute -left-[1.72rem] top-4 h-3 w-3 rounded-full ${e.outcome === 'failure' ? 'bg-red-600' : 'bg-blue-600'}`} />
                  <div className="flex flex-wrap items-baseline gap-x-3 text-sm">
                    <Link href={`/events/${e.id}`} className="link font-semibold">
                      {e.event_type}
                    </Link>
                    <Timestamp iso={e.occurred_at} />
                    <span>
                      by{' '}
                      <Link className="link" href={`/actors/${encodeURIComponent(e.actor_id)}`}>
                        {e.actor_id}
                      </Link>{' '}
                      ({e.actor_type})
                    </span>
                    {e.outcome === 'failure' ? <span className="font-medium text-red-700 dark:text-red-300">failure</span> : null}
                  </div>
                  {pair ? (
                    <div className="mt-2">
                      <DiffTable before={pair.before} after={pair.after} caption={`Change made by ${e.event_type}`} />
                    </div>
                  ) : null}
                </li>
              );
            })}
          </ol>
        </>
      )}
    </div>
  );
}

function decodeOrNull(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}
