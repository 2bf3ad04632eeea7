import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { TRPCError } from '@trpc/server';
import { consoleSession } from '@/server/console.ts';
import { EVENT_FIELDS } from '@/supabase/functions/_shared/contract.ts';
import { beforeAfter } from '@/lib/diff.ts';
import { serializeSearch } from '@/lib/search-params.ts';
import { DiffTable } from '@/components/console/diff-table.tsx';
import { ErasedMark, erasedPointers } from '@/components/console/erased-mark.tsx';
import { Timestamp } from '@/components/console/timestamp.tsx';
import { formatSkew } from '@/lib/skew.ts';
import type { EventClockOutput } from '@/server/routers/clock.types.ts';

export const metadata: Metadata = { title: 'Event' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The event's clock: received_at − occurred_at, and whether it is beyond the tenant's tolerance (docs/clock.md). */
function ClockLine({ clock }: { clock: EventClockOutput | null }) {
  if (!clock) return null;
  if (clock.skew_ms === null) return <p className="text-sm text-slate-700 dark:text-slate-300" data-testid="event-clock">Clock: no occurred_at was sent; the event is dated by its arrival.</p>;
  const { tolerance_ms, network_delay_ms } = clock.tolerance;
  const text = clock.skew_ms < 0 ? `occurred_at is ${formatSkew(-clock.skew_ms)} after its arrival here: the source's clock is ahead of ours` : `received ${formatSkew(clock.skew_ms)} after occurred_at`;
  return (
    <p className={`text-sm ${clock.flag ? 'font-semibold text-red-700 dark:text-red-300' : 'text-slate-700 dark:text-slate-300'}`} data-testid="event-clock">
      Clock: {text}.{' '}
      {clock.flag === 'ahead'
        ? `Flagged: ahead by more than the tolerance of ${tolerance_ms} ms.`
        : clock.flag === 'behind'
          ? `Flagged: behind by more than ${tolerance_ms + network_delay_ms} ms (tolerance ${tolerance_ms} ms + network delay ${network_delay_ms} ms).`
          : `Within the tolerance (${tolerance_ms} ms ahead, ${tolerance_ms + network_delay_ms} ms behind).`}
    </p>
  );
}

export default async function EventPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const session = (await consoleSession())!;
  if (!UUID.test(id)) notFound();
  const event = await session.api.events.get({ id }).catch((err: unknown) => {
    if (err instanceof TRPCError && err.code === 'NOT_FOUND') return null;
    throw err;
  });
  if (!event) notFound();
  const [proof, clock] = await Promise.all([session.api.integrity.proof({ id }).catch(() => null), session.api.clock.event({ id }).catch(() => null)]);
  const pair = beforeAfter(event.context);
  const objectHref = `/objects/${encodeURIComponent(event.object_type)}/${encodeURIComponent(event.object_id)}`;
  const actorHref = `/actors/${encodeURIComponent(event.actor_id)}`;
  // Fields whose subject was erased are marked, never shown as text: a value sent as "[erased]" stays a value.
  const erased = erasedPointers(event);
  const erasedInContext = [...erased].filter((p) => p.startsWith('/context/'));

  return (
    <article className="space-y-4">
      <nav aria-label="Breadcrumb" className="text-sm">
        <Link href="/" className="link">
          Search
        </Link>{' '}
        / Event
      </nav>
      <header>
        <h1 className="text-xl font-semibold">
          {event.event_type} of {event.object_type} {event.object_id}
        </h1>
        <p className="text-sm text-slate-700 dark:text-slate-300">
          by {erased.has('/actor_id') ? <ErasedMark /> : event.actor_id} ({event.actor_type}) · <Timestamp iso={event.occurred_at} /> ·{' '}
          <span className={event.outcome === 'failure' ? 'font-medium text-red-700 dark:text-red-300' : ''}>{event.outcome}</span>
        </p>
        <p className="text-sm text-slate-700 dark:text-slate-300" data-testid="written-by">
          Written with {event.written_by ? <span className="font-mono">{event.written_by}</span> : 'a credential not recorded (schema version 1)'}
        </p>
        <ClockLine clock={clock} />
        <ul className="mt-2 flex flex-wrap gap-2 text-sm">
          <li>
            <Link className="btn" href={objectHref}>
              Object timeline
            </Link>
          </li>
          <li>
            <Link className="btn" href={actorHref}>
              Actor activity
            </Link>
          </li>
          {event.request_id ? (
            <li>
              <Link className="btn" href={`/${serializeSearch({ request_id: event.request_id, order: 'asc' })}`}>
                Same request ID
              </Link>
            </li>
          ) : null}
        </ul>
      </header>

      {pair ? (
        <section className="card p-3" aria-labelledby="diff-heading">
          <h2 id="diff-heading" className="mb-2 font-semibold">
            Change
          </h2>
          <DiffTable before={pair.before} after={pair.after} caption="Fields before and after this event" />
        </section>
      ) : null}

      <div className="grid gap-4 lg:grid-cols-2">
        <section className="card p-3" aria-labelledby="fields-heading">
          <h2 id="fields-heading" className="mb-2 font-semibold">
            Fields
          </h2>
          <dl className="grid grid-cols-[11rem_1fr] gap-x-3 gap-y-1 text-sm">
            {EVENT_FIELDS.filter((f) => f !== 'context').map((f) => {
              const value = event[f];
              return (
                <div key={f} className="contents">
                  <dt className="font-mono text-slate-700 dark:text-slate-300">{f}</dt>
                  <dd className="break-all font-mono">
                    {erased.has(`/${f}`) ? (
                      <ErasedMark />
                    ) : value === null ? (
                      <span className="text-slate-600 dark:text-slate-400">null</span>
                    ) : f === 'occurred_at' || f === 'received_at' ? (
                      <Timestamp iso={String(value)} />
                    ) : (
                      String(value)
                    )}
                  </dd>
                </div>
              );
            })}
          </dl>
        </section>
        <section className="card p-3" aria-labelledby="context-heading">
          <h2 id="context-heading" className="mb-2 font-semibold">
            Context
          </h2>
          <pre className="overflow-auto rounded bg-slate-50 p-2 text-xs dark:bg-slate-950" tabIndex={0} aria-label="Context as JSON">
            {JSON.stringify(event.context, null, 2)}
          </pre>
          {erasedInContext.length ? (
            <p className="mt-2 text-sm" data-testid="erased-context">
              <ErasedMark /> members (their subject&apos;s key was destroyed; the text there stands for no value):{' '}
              <span className="font-mono">{erasedInContext.map((p) => p.slice('/context/'.length)).join(', ')}</span>
            </p>
          ) : null}
        </section>
      </div>

      <section className="card p-3" aria-labelledby="integrity-heading">
        <h2 id="integrity-heading" className="mb-2 font-semibold">
          Integrity
        </h2>
        {!proof ? (
          <p className="text-sm">The proof could not be computed.</p>
        ) : proof.status === 'pending' ? (
          <p className="text-sm" data-testid="integrity-state">
            Pending: this event is sealed under a signed checkpoint within seconds of being written.
          </p>
        ) : (
          <div className="space-y-2 text-sm">
            <p data-testid="integrity-state" className={proof.verified ? 'font-semibold text-emerald-700 dark:text-emerald-300' : 'font-semibold text-red-700 dark:text-red-300'}>
              {proof.verified ? 'Verified' : 'Not verified: this event no longer matches what was signed'}
            </p>
            <dl className="grid grid-cols-[11rem_1fr] gap-x-3 gap-y-1">
              <dt>Event hash</dt>
              <dd className="break-all font-mono text-xs">{proof.event_hash}</dd>
              <dt>Checkpoint</dt>
              <dd>
                #{proof.checkpoint!.number} (seq {proof.checkpoint!.seq_from}–{proof.checkpoint!.seq_to}), sealed <Timestamp iso={proof.checkpoint!.sealed_at} />
              </dd>
              <dt>Merkle root</dt>
              <dd className="break-all font-mono text-xs">{proof.checkpoint!.merkle_root}</dd>
              <dt>Audit path</dt>
              <dd>
                leaf {proof.leaf_index} of {proof.tree_size}, {proof.audit_path.length} hashes
              </dd>
              <dt>Signing key</dt>
              <dd className="break-all font-mono text-xs">{proof.checkpoint!.key_id}</dd>
            </dl>
            <a className="btn" href={`/api/v1/audit/events/${event.id}/proof`} download={`proof-${event.id}.json`}>
              Download proof (JSON)
            </a>
          </div>
        )}
      </section>
    </article>
  );
}
