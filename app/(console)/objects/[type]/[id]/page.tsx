import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { LIMITS, typeName } from '@/supabase/functions/_shared/contract.ts';
import { parseTimeBound } from '@/supabase/functions/_shared/timestamps.ts';
import { consoleSession } from '@/server/console.ts';
import { beforeAfter } from '@/lib/diff.ts';
import { countOf } from '@/lib/count-words.ts';
import { serializeSearch } from '@/lib/search-params.ts';
import { DiffTable } from '@/components/console/diff-table.tsx';
import { StateAsOf } from '@/components/console/state-as-of.tsx';
import { OrderExport } from '@/components/console/order-export.tsx';
import { Timestamp } from '@/components/console/timestamp.tsx';

export const metadata: Metadata = { title: 'Object timeline' };

/** Pages of 1000 read for a timeline; beyond this the search page takes over. */
const MAX_PAGES = 10;

const objectHref = (type: string, id: string) => `/objects/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;

/**
 * An object's page: its own events and, for the whole order, every event whose
 * context names it (fills, allocations, child orders), in one timeline with
 * each event's object type and id; narrowed to one object type by ?only=,
 * exported as one file; and its state (with fills) as of a moment, ?at=.
 */
export default async function ObjectTimeline({ params, searchParams }: { params: Promise<{ type: string; id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { type, id } = await params;
  const query = await searchParams;
  // A type that cannot exist (`<script>`, a malformed escape) is a page that does not exist, not an error.
  const parsedType = typeName.safeParse(decodeOrNull(type));
  const objectId = decodeOrNull(id);
  if (!parsedType.success || !objectId || objectId.length > LIMITS.identifierLength) notFound();
  const objectType = parsedType.data;
  const only = typeof query.only === 'string' ? query.only.toUpperCase() : null;
  const askedAt = typeof query.at === 'string' ? parseTimeBound(query.at, false) : null;
  const at = askedAt?.ok ? askedAt.value.iso : null;

  const session = (await consoleSession())!;
  const events = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await session.api.events.objectHistory({ object_type: objectType, object_id: objectId, order: 'asc', limit: 1000, cursor, related: true });
    events.push(...result.events);
    if (!result.next_cursor) break;
    cursor = result.next_cursor;
  }
  const { keys } = await session.api.relatedKeys.get();
  const truncated = Boolean(cursor) && events.length >= MAX_PAGES * 1000;
  const isOwn = (e: { object_type: string; object_id: string }) => e.object_type === objectType && e.object_id === objectId;
  const own = events.filter(isOwn);
  const related = events.filter((e) => !isOwn(e));
  const typeCounts = new Map<string, number>();
  for (const e of events) typeCounts.set(e.object_type, (typeCounts.get(e.object_type) ?? 0) + 1);
  const shown = only ? events.filter((e) => e.object_type === only) : events;
  const here = (next: { only?: string | null }) => {
    const p = new URLSearchParams();
    if (next.only) p.set('only', next.only);
    if (at) p.set('at', at);
    const s = p.toString();
    return `${objectHref(objectType, objectId)}${s ? `?${s}` : ''}`;
  };

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
        <span className="text-sm text-slate-700 dark:text-slate-300" data-testid="timeline-count">
          {countOf(own.length, 'event')} of its own{related.length ? `, ${countOf(related.length, 'related event')}` : ''}, oldest first
        </span>
        <span className="text-sm text-slate-700 dark:text-slate-300" data-testid="timeline-keys">
          related through {keys.join(', ')}
          {session.can('related-keys:manage') ? (
            <>
              {' '}
              (
              <Link className="link" href="/admin/system#related-keys">
                change
              </Link>
              )
            </>
          ) : null}
        </span>
        <Link className="link text-sm" href={`/${serializeSearch(objectType === 'ORDER' ? { about: objectId, order: 'asc' } : { object_type: objectType, object_id: objectId, order: 'asc' })}`}>
          Open in search
        </Link>
      </header>
      {events.length === 0 ? (
        <p className="card p-6 text-center text-slate-700 dark:text-slate-300">No events for this object in this tenant.</p>
      ) : (
        <>
          <StateAsOf
            events={own.map((e) => ({ id: e.id, occurred_at: e.occurred_at, event_type: e.event_type, context: e.context }))}
            related={related.map((e) => ({ id: e.id, occurred_at: e.occurred_at, object_type: e.object_type, object_id: e.object_id, context: e.context }))}
            initialAt={at}
          />
          {truncated ? <p className="text-sm">Showing the first {events.length.toLocaleString('en-US')} events; open in search for the rest.</p> : null}
          <div className="flex flex-wrap items-center gap-x-4 gap-y-2 text-sm">
            <nav aria-label="Object types in the timeline" className="flex flex-wrap gap-2">
              <Link href={here({ only: null })} className={only ? 'link' : 'font-semibold'} aria-current={only ? undefined : 'true'}>
                All ({events.length})
              </Link>
              {[...typeCounts].map(([t, n]) => (
                <Link key={t} href={here({ only: t })} className={only === t ? 'font-semibold' : 'link'} aria-current={only === t ? 'true' : undefined}>
                  {t} ({n})
                </Link>
              ))}
            </nav>
            {session.can('events:export') ? (
              <OrderExport objectType={objectType} objectId={objectId} />
            ) : null}
          </div>
          <ol className="relative space-y-3 border-l-2 border-slate-200 pl-5 dark:border-slate-700" aria-label="Timeline">
            {shown.map((e) => {
              const pair = beforeAfter(e.context);
              const self = isOwn(e);
              return (
                <li key={e.id} className="card relative p-3">
                  <span aria-hidden className={`absolute -left-[1.72rem] top-4 h-3 w-3 rounded-full ${e.outcome === 'failure' ? 'bg-red-600' : self ? 'bg-blue-600' : 'bg-emerald-600'}`} />
                  <div className="flex flex-wrap items-baseline gap-x-3 text-sm">
                    <Link href={`/events/${e.id}`} className="link font-semibold">
                      {e.event_type}
                    </Link>
                    {self ? (
                      <span className="text-slate-600 dark:text-slate-400">
                        {e.object_type} {e.object_id}
                      </span>
                    ) : (
                      <Link className="link" href={objectHref(e.object_type, e.object_id)}>
                        {e.object_type} {e.object_id}
                      </Link>
                    )}
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
