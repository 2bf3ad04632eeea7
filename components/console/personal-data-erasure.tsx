'use client';
/**
 * The erasure page (tenant admins): enter a data subject, see first what an
 * erasure would do — the subject's keys, its events in PostgreSQL and in
 * archived months, and the legal holds and retention duty that refuse it now
 * (which records, until when) — and only when nothing blocks, type the subject
 * id again and a reason before the Erase button is enabled. Erasing destroys
 * the subject's keys for good (docs/personal-data.md#erasure).
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useId, useState } from 'react';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import type { EraseOutput, PreviewOutput as Preview } from '@/server/routers/personal-data.types.ts';
import { Timestamp } from './timestamp.tsx';

function Refusal({ block }: { block: NonNullable<Preview['block']> }) {
  return (
    <div role="alert" className="card space-y-3 border-red-400 p-3 dark:border-red-700" data-testid="erasure-refusal">
      <p className="font-semibold text-red-700 dark:text-red-300">The erasure is refused now; nothing would be changed.</p>
      {block.holds.length ? (
        <table className="w-full text-sm">
          <caption className="text-left font-medium">Active legal holds covering the subject&apos;s events</caption>
          <thead className="bg-slate-100 text-left dark:bg-slate-800">
            <tr>
              <th scope="col" className="px-2 py-1">Hold</th>
              <th scope="col" className="px-2 py-1">Reason</th>
              <th scope="col" className="px-2 py-1">Events covered</th>
              <th scope="col" className="px-2 py-1">Of which archived</th>
            </tr>
          </thead>
          <tbody>
            {block.holds.map((h) => (
              <tr key={h.id} className="border-t border-slate-200 dark:border-slate-700">
                <td className="px-2 py-1 font-mono text-xs">{h.id}</td>
                <td className="px-2 py-1">{h.reason}</td>
                <td className="px-2 py-1">{h.events}</td>
                <td className="px-2 py-1">{h.archived_events}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {block.retention.length ? (
        <table className="w-full text-sm">
          <caption className="text-left font-medium">Records the retention policy still requires</caption>
          <thead className="bg-slate-100 text-left dark:bg-slate-800">
            <tr>
              <th scope="col" className="px-2 py-1">Month</th>
              <th scope="col" className="px-2 py-1">Where</th>
              <th scope="col" className="px-2 py-1">Events</th>
              <th scope="col" className="px-2 py-1">Kept until</th>
            </tr>
          </thead>
          <tbody>
            {block.retention.map((r) => (
              <tr key={`${r.month}-${r.archived}`} className="border-t border-slate-200 dark:border-slate-700">
                <td className="px-2 py-1">{r.month}</td>
                <td className="px-2 py-1">{r.archived ? 'archived' : 'PostgreSQL'}</td>
                <td className="px-2 py-1">{r.events}</td>
                <td className="px-2 py-1">
                  <Timestamp iso={r.retained_until} showUtc />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <p className="text-sm text-slate-700 dark:text-slate-300">
        Release the holds (Retention page) or wait until the records leave the retention duty; a tenant whose personal fields lie outside the retention duty declares it with{' '}
        <code>oms-audit personal-data declare --outside-retention</code>.
      </p>
    </div>
  );
}

/** What the erasure did; kept by the page while the subject's preview is read again. */
function ErasureDone({ r }: { r: EraseOutput }) {
  return (
    <div role="status" className="card space-y-1 border-emerald-400 p-3 text-sm dark:border-emerald-700" data-testid="erasure-result">
      <p className="font-semibold">
        {r.erased ? `Erased: ${r.key_ids.length} key(s) destroyed; ${r.events} event(s) in PostgreSQL, and the subject's archived events, now show its fields as [erased].` : `Erased before, at ${r.erased_at}; nothing changed.`}
      </p>
      {r.erasure_event_id ? (
        <p>
          Recorded as event{' '}
          <Link className="link font-mono" href={`/events/${r.erasure_event_id}`}>
            {r.erasure_event_id}
          </Link>
          . {r.erasure_anchored ? 'Also written to the anchor location, so restoring an older backup cannot undo it.' : 'No anchor location is configured: after restoring an older backup, erase again.'}
        </p>
      ) : null}
    </div>
  );
}

function EraseForm({ subjectId, preview, onErased }: { subjectId: string; preview: Preview; onErased: (result: EraseOutput) => void }) {
  const trpc = useTRPC();
  const id = useId();
  const [reason, setReason] = useState('');
  const [confirm, setConfirm] = useState('');
  const erase = useMutation(trpc.personalData.erase.mutationOptions({ onSuccess: onErased }));
  const live = preview.keys.filter((k) => !k.erased_at).length;
  const ready = confirm === subjectId && reason.trim().length > 0;
  return (
    <form
      className="card space-y-3 border-red-300 p-3 dark:border-red-800"
      aria-label="Erase the subject"
      onSubmit={(e) => {
        e.preventDefault();
        if (ready) erase.mutate({ subject_id: subjectId, reason, confirm });
      }}
    >
      <p className="text-sm">
        Erasing destroys {live} key(s) of this subject for good: its personal fields in {preview.block!.checked.hot_events} event(s) in PostgreSQL and{' '}
        {preview.block!.checked.archived_events} archived event(s), and in every export, bundle and backup, read as <code>[erased]</code> from then on. Hashes and proofs are
        unchanged. This cannot be undone.
      </p>
      <div className="flex flex-wrap items-end gap-4">
        <div>
          <label htmlFor={`${id}-reason`} className="field-label">
            Reason for the erasure
          </label>
          <input id={`${id}-reason`} className="field-input min-w-72" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={2000} placeholder="GDPR request 2026-118" />
        </div>
        <div>
          <label htmlFor={`${id}-confirm`} className="field-label">
            Type the subject id to confirm
          </label>
          <input id={`${id}-confirm`} className="field-input min-w-72 font-mono" value={confirm} onChange={(e) => setConfirm(e.target.value)} autoComplete="off" spellCheck={false} />
        </div>
        <button type="submit" className="btn-danger" disabled={!ready || erase.isPending}>
          Erase
        </button>
      </div>
      {confirm && confirm !== subjectId ? <p className="text-sm text-slate-700 dark:text-slate-300">The confirmation does not match the subject id exactly.</p> : null}
      {erase.isError ? (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {errorMessage(erase.error)}
        </p>
      ) : null}
    </form>
  );
}

function Outcome({ subjectId }: { subjectId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const preview = useQuery({ ...trpc.personalData.preview.queryOptions({ subject_id: subjectId }), staleTime: Infinity });
  const [done, setDone] = useState<EraseOutput | null>(null);
  if (done) return <ErasureDone r={done} />;
  if (preview.isPending) return <div className="skeleton h-24" aria-busy="true" aria-label="Checking the subject" />;
  if (preview.isError) return <p role="alert">{errorMessage(preview.error)}</p>;
  const p = preview.data;
  const summary = (
    <p className="text-sm text-slate-700 dark:text-slate-300" data-testid="erasure-subject">
      Subject ref <code className="break-all">{p.subject_ref}</code>: {p.keys.filter((k) => !k.erased_at).length} live key(s), {p.keys.filter((k) => k.erased_at).length} destroyed.
      {p.block ? ` Checked ${p.block.checked.hot_events} event(s) in PostgreSQL and ${p.block.checked.archived_events} in archived months.` : ''}
    </p>
  );
  switch (p.status) {
    case 'not_declared':
      return <p className="card p-3 text-sm">This tenant does not keep personal data under per-subject keys, so there is nothing to erase this way (docs/personal-data.md).</p>;
    case 'unknown_subject':
      return <p className="card p-3 text-sm">No personal data of this subject id is stored under a key of its own. Check the exact identifier (case and spaces count).</p>;
    case 'erased': {
      const last = p.keys[p.keys.length - 1]!;
      return (
        <div className="card space-y-1 p-3 text-sm" role="status">
          {summary}
          <p>
            Already erased at <Timestamp iso={last.erased_at!} showUtc />
            {last.erasure_event_id ? (
              <>
                {' '}
                (event{' '}
                <Link className="link font-mono" href={`/events/${last.erasure_event_id}`}>
                  {last.erasure_event_id}
                </Link>
                )
              </>
            ) : null}
            .
          </p>
        </div>
      );
    }
    case 'unreadable':
      return (
        <div role="alert" className="card space-y-1 border-red-400 p-3 text-sm dark:border-red-700">
          {summary}
          <p className="font-semibold text-red-700 dark:text-red-300">The checks could not be completed, so the erasure is refused:</p>
          <p>{p.problem}</p>
        </div>
      );
    case 'blocked':
      return (
        <div className="space-y-3">
          {summary}
          <Refusal block={p.block!} />
        </div>
      );
    case 'erasable':
      return (
        <div className="space-y-3">
          {summary}
          <p className="text-sm">No legal hold covers the subject&apos;s events and the retention policy does not require them{p.outside_retention ? ' (this tenant declared its personal fields outside the retention duty)' : ''}.</p>
          <EraseForm
            subjectId={subjectId}
            preview={p}
            onErased={(result) => {
              setDone(result);
              void queryClient.invalidateQueries({ queryKey: trpc.personalData.preview.queryKey({ subject_id: subjectId }) });
            }}
          />
        </div>
      );
  }
}

export function PersonalDataErasure({ initialSubject }: { initialSubject: string }) {
  const id = useId();
  const [draft, setDraft] = useState(initialSubject);
  const [subject, setSubject] = useState(initialSubject);
  return (
    <div className="space-y-4">
      <form
        className="card flex flex-wrap items-end gap-4 p-3"
        aria-label="Check a data subject"
        onSubmit={(e) => {
          e.preventDefault();
          setSubject(draft);
        }}
      >
        <div>
          <label htmlFor={`${id}-subject`} className="field-label">
            Subject id (the actor id or subject_id as sent)
          </label>
          <input id={`${id}-subject`} className="field-input min-w-96 font-mono" value={draft} onChange={(e) => setDraft(e.target.value)} required spellCheck={false} />
        </div>
        <button type="submit" className="btn-primary" disabled={!draft}>
          Check
        </button>
      </form>
      {subject ? <Outcome key={subject} subjectId={subject} /> : null}
    </div>
  );
}
