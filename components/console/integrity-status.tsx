'use client';
import { useSyncExternalStore } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import { formatUtc } from '@/lib/time.ts';
import { Timestamp } from './timestamp.tsx';

const noSubscription = () => () => {};

type Problem = { seq: number | null; id: string | null; kind: string; detail: string };

type Covered = {
  seq_from?: number;
  seq_to?: number;
  checkpoint_from?: number;
  checkpoint_to?: number;
  base?: { verified_at: string; verified_through: number; full_verified_at: string } | null;
};

/** Which kind of verification ran and what it covered, in words. */
function coverage(kind: string, scope: Covered | null | undefined): string {
  const s = scope ?? {};
  const checkpoints = s.checkpoint_to ? `checkpoints #${s.checkpoint_from}–#${s.checkpoint_to}` : 'no new checkpoints';
  const seqs = s.seq_to !== undefined && s.seq_from !== undefined && s.seq_to >= s.seq_from ? `seq ${s.seq_from}–${s.seq_to}` : 'no events';
  if (kind === 'incremental' && s.base) {
    return `Incremental: ${checkpoints}, ${seqs}. Checkpoints #1–#${s.base.verified_through} were verified at ${formatUtc(s.base.verified_at)} and not checked again; the full verification they rest on ran at ${formatUtc(s.base.full_verified_at)}.`;
  }
  if (kind === 'range') return `Period only: ${checkpoints}, ${seqs}.`;
  return `Full: every checkpoint and event (${checkpoints}, ${seqs}).`;
}

function Problems({ problems, total }: { problems: Problem[]; total: number }) {
  if (!problems.length) return null;
  return (
    <div className="mt-2">
      <p className="text-sm font-medium text-red-700 dark:text-red-300">
        {total} problem{total === 1 ? '' : 's'}; the first {problems.length}:
      </p>
      <ul className="mt-1 space-y-1 text-sm" aria-label="Problems found">
        {problems.map((p, i) => (
          <li key={i}>
            <span className="rounded bg-red-100 px-1 font-mono text-xs text-red-800 dark:bg-red-900 dark:text-red-100">{p.kind}</span>{' '}
            {p.seq !== null ? <span className="font-mono">seq {p.seq}</span> : null} {p.detail}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function IntegrityStatus({ canVerify }: { canVerify: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const status = useQuery(trpc.integrity.status.queryOptions());
  // This server's address for the monitor command (known in the browser only).
  const origin = useSyncExternalStore(
    noSubscription,
    () => window.location.origin,
    () => 'https://<this server>',
  );
  const verify = useMutation(
    trpc.integrity.verify.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.integrity.status.queryKey() }) }),
  );
  if (status.isError) return <p role="alert">{errorMessage(status.error)}</p>;
  if (!status.data) return <p>Loading…</p>;
  const s = status.data;
  const last = s.last_verification;

  return (
    <div className="space-y-4">
      <dl className="card grid grid-cols-2 gap-3 p-3 text-sm md:grid-cols-4" aria-label="Integrity status">
        <div>
          <dt className="field-label">Events written</dt>
          <dd className="text-lg font-semibold">{s.events_total.toLocaleString('en-US')}</dd>
        </div>
        <div>
          <dt className="field-label">Under a signed checkpoint</dt>
          <dd className="text-lg font-semibold">{s.events_covered.toLocaleString('en-US')}</dd>
          {s.uncovered_events ? <dd className="text-xs">{s.uncovered_events} waiting for the next seal</dd> : null}
        </div>
        <div>
          <dt className="field-label">Last checkpoint</dt>
          <dd>
            {s.last_checkpoint ? (
              <>
                #{s.last_checkpoint.number} · seq {s.last_checkpoint.seq_from}–{s.last_checkpoint.seq_to}
                <br />
                <span className="text-xs"><Timestamp iso={s.last_checkpoint.sealed_at} /></span>
              </>
            ) : (
              'none yet'
            )}
          </dd>
        </div>
        <div>
          <dt className="field-label">Signing key fingerprint</dt>
          <dd className="font-mono text-xs break-all" title="SHA-256 of the public key (DER)" data-testid="key-fingerprint">
            {s.key_id}
          </dd>
          <dd>
            <a className="link text-xs" href="/api/integrity/public-key">
              Public key
            </a>
          </dd>
        </div>
      </dl>

      <section className="card p-3 text-sm" aria-label="Anchors outside the database">
        <h2 className="font-semibold">Anchored outside the database</h2>
        {s.anchors.configured ? (
          <p data-testid="anchor-state">
            Checkpoints anchored through #{s.anchors.anchored_through} at <span className="font-mono text-xs">{s.anchors.location}</span>
            {s.anchors.time_stamping ? `; time-stamped through #${s.anchors.timestamped_through ?? 0}` : '; no time-stamp authority configured'}
            {s.anchors.pending ? ` · ${s.anchors.pending} waiting to be anchored` : ''}
          </p>
        ) : (
          <p data-testid="anchor-state" className="font-medium text-amber-800 dark:text-amber-200">
            Not anchored: no anchor location is configured (ARCHIVE_URL or ANCHOR_URL), so a trail cut short in the database would not be detected.
          </p>
        )}
        {s.anchors.last_error ? (
          <p role="alert" className="mt-1 text-red-700 dark:text-red-300">
            Anchoring checkpoint #{s.anchors.failing_number} failed{s.anchors.last_error_at ? ` ($<Timestamp iso={s.anchors.last_error_at} />)` : ''}: {s.anchors.last_error}
          </p>
        ) : null}
        <p className="mt-2">
          Check the trail from your own machine, pinned to this key, and alert on a rollback or a rewritten history:
        </p>
        <pre className="mt-1 overflow-x-auto rounded bg-slate-100 p-2 font-mono text-xs dark:bg-slate-800" data-testid="monitor-command">
          {`npx oms-audit monitor --url ${origin} --key $OMS_AUDIT_API_KEY --state monitor-state.json --fingerprint ${s.key_id}`}
        </pre>
      </section>

      <section className="card p-3" aria-label="Last verification">
        <h2 className="font-semibold">Last verification</h2>
        {last ? (
          <div className="text-sm">
            <p>
              <span
                data-testid="verification-result"
                className={last.ok ? 'font-semibold text-emerald-700 dark:text-emerald-300' : 'font-semibold text-red-700 dark:text-red-300'}
              >
                {last.ok ? 'Intact' : 'Tampering found'}
              </span>{' '}
              · {last.events_checked.toLocaleString('en-US')} events, {last.checkpoints_checked} checkpoints · <Timestamp iso={last.finished_at} /> by{' '}
              {last.verified_by}
            </p>
            <p className="text-xs" data-testid="verification-coverage">
              {coverage(last.kind, last.scope as Covered | null)}
            </p>
            <Problems problems={last.problems} total={last.problem_count} />
          </div>
        ) : (
          <p className="text-sm">Never verified.</p>
        )}
        {canVerify ? (
          <div className="mt-3 flex items-center gap-3">
            <button
              type="button"
              className="btn-primary"
              disabled={verify.isPending}
              onClick={() => verify.mutate({ full: false })}
              title="Checks what was sealed since the last verification"
            >
              {verify.isPending ? 'Verifying…' : 'Verify now'}
            </button>
            <button type="button" className="btn" disabled={verify.isPending} onClick={() => verify.mutate({ full: true })} title="Checks every checkpoint and event">
              Full verification
            </button>
            {verify.data ? (
              <span role="status" className="text-sm">
                {verify.data.ok ? 'Intact' : 'Tampering found'} ({verify.data.kind}): {verify.data.events_checked.toLocaleString('en-US')} events checked
                {verify.data.archived_events_checked ? ` (${verify.data.archived_events_checked.toLocaleString('en-US')} from archives)` : ''} in{' '}
                {verify.data.duration_ms} ms;{' '}
                {verify.data.anchors.checkpoints.configured
                  ? `${verify.data.anchors.checkpoints.anchors_checked} anchored checkpoints compared, ${verify.data.anchors.checkpoints.timestamps_checked} time stamps checked`
                  : 'not checked against anchors (none configured)'}
              </span>
            ) : null}
            {verify.isError ? (
              <span role="alert" className="text-sm text-red-700 dark:text-red-300">
                {errorMessage(verify.error)}
              </span>
            ) : null}
          </div>
        ) : null}
      </section>
    </div>
  );
}
