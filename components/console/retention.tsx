'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useRef, useState } from 'react';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import { Timestamp } from './timestamp.tsx';

const n = (v: number) => v.toLocaleString('en-US');

function Alert({ error }: { error: unknown }) {
  return error ? (
    <p role="alert" className="text-sm text-red-700 dark:text-red-300">
      {errorMessage(error)}
    </p>
  ) : null;
}

function Policy({ canManage, onChange }: { canManage: boolean; onChange: () => void }) {
  const trpc = useTRPC();
  const id = useId();
  const policy = useQuery(trpc.retention.policy.queryOptions());
  const save = useMutation(trpc.retention.setPolicy.mutationOptions({ onSuccess: onChange }));
  const [hot, setHot] = useState('');
  const [total, setTotal] = useState('');
  const p = policy.data;
  return (
    <section className="card space-y-2 p-3" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`} className="font-semibold">
        Policy
      </h2>
      {p ? (
        <p className="text-sm" data-testid="retention-policy">
          {p.hot_months} months hot in PostgreSQL, {p.total_years} years in total{p.is_default ? ' (default)' : ''}; the operator&apos;s floor is{' '}
          {p.min_total_years} years.{p.updated_by ? (
            <>
              {' '}
              Last changed by {p.updated_by}, <Timestamp iso={p.updated_at!} />.
            </>
          ) : null}
        </p>
      ) : null}
      {canManage ? (
        <form
          className="flex flex-wrap items-end gap-3"
          aria-label="Change the retention policy"
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate({ ...(hot ? { hot_months: Number(hot) } : {}), ...(total ? { total_years: Number(total) } : {}) });
          }}
        >
          <div>
            <label htmlFor={`${id}-hot`} className="field-label">
              Hot months
            </label>
            <input id={`${id}-hot`} className="field-input w-28" type="number" min={1} max={600} value={hot} onChange={(e) => setHot(e.target.value)} placeholder={String(p?.hot_months ?? '')} />
          </div>
          <div>
            <label htmlFor={`${id}-total`} className="field-label">
              Total years
            </label>
            <input id={`${id}-total`} className="field-input w-28" type="number" min={1} max={100} value={total} onChange={(e) => setTotal(e.target.value)} placeholder={String(p?.total_years ?? '')} />
          </div>
          <button type="submit" className="btn-primary" disabled={save.isPending || (!hot && !total)}>
            Save policy
          </button>
          <Alert error={save.error} />
        </form>
      ) : null}
    </section>
  );
}

/**
 * Releasing a hold lets data be deleted that someone asked to keep: it is
 * confirmed in a dialog and needs a written reason, which the trail records.
 */
function ReleaseHold({ hold, onReleased }: { hold: { id: string; reason: string }; onReleased: () => void }) {
  const trpc = useTRPC();
  const id = useId();
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const release = useMutation(trpc.retention.releaseHold.mutationOptions());
  function close() {
    dialog.current?.close();
    setOpen(false);
    setReason('');
    release.reset();
  }
  return (
    <>
      <button
        type="button"
        className="btn"
        onClick={() => {
          setOpen(true);
          dialog.current?.showModal();
        }}
      >
        Release
      </button>
      <dialog ref={dialog} aria-labelledby={`${id}-h`} className="card m-auto max-w-md p-4 backdrop:bg-slate-900/50" onClose={() => setOpen(false)}>
        {open ? (
          <form
            className="space-y-3"
            onSubmit={(e) => {
              e.preventDefault();
              release.mutate(
                { id: hold.id, reason },
                {
                  onSuccess: () => {
                    close();
                    onReleased();
                  },
                },
              );
            }}
          >
            <h3 id={`${id}-h`} className="font-semibold">
              Release the legal hold “{hold.reason}”?
            </h3>
            <p className="text-sm">Its events may then be deleted when their retention ends. The release and its reason are recorded in the trail.</p>
            <div>
              <label htmlFor={`${id}-reason`} className="field-label">
                Reason for the release
              </label>
              <textarea id={`${id}-reason`} className="field-input" rows={3} required maxLength={2000} value={reason} onChange={(e) => setReason(e.target.value)} autoFocus />
            </div>
            <Alert error={release.error} />
            <div className="flex justify-end gap-2">
              <button type="button" className="btn" onClick={close}>
                Cancel
              </button>
              <button type="submit" className="btn-primary" disabled={release.isPending || !reason.trim()}>
                Release hold
              </button>
            </div>
          </form>
        ) : null}
      </dialog>
    </>
  );
}

function Holds({ canManage, onChange }: { canManage: boolean; onChange: () => void }) {
  const trpc = useTRPC();
  const id = useId();
  const holds = useQuery(trpc.retention.holds.queryOptions({ include_released: false }));
  const add = useMutation(trpc.retention.addHold.mutationOptions({ onSuccess: onChange }));
  const [form, setForm] = useState({ reason: '', object_type: '', object_id: '', from: '', to: '' });
  const field = (key: keyof typeof form, label: string, placeholder = '') => (
    <div>
      <label htmlFor={`${id}-${key}`} className="field-label">
        {label}
      </label>
      <input id={`${id}-${key}`} className="field-input" value={form[key]} placeholder={placeholder} onChange={(e) => setForm({ ...form, [key]: e.target.value })} />
    </div>
  );
  return (
    <section className="card space-y-2 p-3" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`} className="font-semibold">
        Legal holds
      </h2>
      {holds.data?.length ? (
        <ul className="space-y-1 text-sm" aria-label="Active legal holds">
          {holds.data.map((h) => (
            <li key={h.id} className="flex flex-wrap items-center gap-2">
              <span>
                <strong>{h.reason}</strong> — {h.object_type ? `${h.object_type} ${h.object_id ?? '(all)'}` : 'whole tenant'}
                {h.from || h.to ? (
                  <>
                    , {h.from ? <Timestamp iso={h.from} /> : '…'} to before {h.to ? <Timestamp iso={h.to} /> : '…'}
                  </>
                ) : null}{' '}
                · placed by {h.created_by}
              </span>
              {canManage ? <ReleaseHold hold={h} onReleased={onChange} /> : null}
            </li>
          ))}
        </ul>
      ) : (
        <p className="text-sm">No active legal hold.</p>
      )}
      {canManage ? (
        <form
          className="flex flex-wrap items-end gap-3"
          aria-label="Place a legal hold"
          onSubmit={(e) => {
            e.preventDefault();
            add.mutate(
              {
                reason: form.reason,
                ...(form.object_type ? { object_type: form.object_type } : {}),
                ...(form.object_id ? { object_id: form.object_id } : {}),
                ...(form.from ? { from: form.from } : {}),
                ...(form.to ? { to: form.to } : {}),
              },
              { onSuccess: () => setForm({ reason: '', object_type: '', object_id: '', from: '', to: '' }) },
            );
          }}
        >
          {field('reason', 'Reason', 'SEC inquiry 2026-17')}
          {field('object_type', 'Object type', 'ORDER (optional)')}
          {field('object_id', 'Object ID', 'optional')}
          {field('from', 'From (UTC)', 'YYYY-MM-DD')}
          {field('to', 'Before (UTC, exclusive)', 'YYYY-MM-DD')}
          <button type="submit" className="btn-primary" disabled={add.isPending || !form.reason.trim()}>
            Place hold
          </button>
          <Alert error={add.error} />
        </form>
      ) : null}
    </section>
  );
}

function Months({ canManage, onChange }: { canManage: boolean; onChange: () => void }) {
  const trpc = useTRPC();
  const months = useQuery(trpc.retention.months.queryOptions());
  const restore = useMutation(trpc.retention.restore.mutationOptions({ onSuccess: onChange }));
  const releaseRestore = useMutation(trpc.retention.releaseRestore.mutationOptions({ onSuccess: onChange }));
  return (
    <section className="card space-y-2 p-3" aria-labelledby="months-h">
      <div className="flex items-center gap-3">
        <h2 id="months-h" className="font-semibold">
          Months
        </h2>
        <a className="link ml-auto text-sm" href="/api/v1/retention/report?format=csv" download>
          Compliance report (CSV)
        </a>
      </div>
      <div className="overflow-auto">
        <table className="w-full text-sm" aria-label="Months and where their events are">
          <thead className="text-left">
            <tr>
              <th scope="col">Month</th>
              <th scope="col">State</th>
              <th scope="col">In ledger</th>
              <th scope="col">Hot</th>
              <th scope="col">Archived</th>
              <th scope="col">Restored</th>
              <th scope="col">Expired</th>
              <th scope="col">Unaccounted</th>
              <th scope="col">Kept until</th>
              <th scope="col">Holds</th>
              {canManage ? <th scope="col">Investigation</th> : null}
            </tr>
          </thead>
          <tbody>
            {(months.data ?? []).map((m) => (
              <tr key={m.month} className="border-t border-slate-200 dark:border-slate-800">
                <td className="font-mono">{m.month}</td>
                <td>{m.state}</td>
                <td>{n(m.events_ledger)}</td>
                <td>{n(m.events_hot)}</td>
                <td>{n(m.events_archived)}</td>
                <td>{n(m.events_restored)}</td>
                <td>{n(m.events_expired)}</td>
                <td className={m.events_unaccounted ? 'font-semibold text-red-700 dark:text-red-300' : ''}>{n(m.events_unaccounted)}</td>
                <td>{m.retain_until ? m.retain_until.slice(0, 10) : '—'}</td>
                <td>{m.holds.length || '—'}</td>
                {canManage ? (
                  <td>
                    {m.state === 'verified' || m.state === 'archived' ? (
                      <button type="button" className="btn" disabled={restore.isPending} onClick={() => restore.mutate({ month: m.month })}>
                        Restore {m.month}
                      </button>
                    ) : m.state === 'restored' ? (
                      <button type="button" className="btn" disabled={releaseRestore.isPending} onClick={() => releaseRestore.mutate({ month: m.month })}>
                        Release {m.month}
                      </button>
                    ) : null}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Alert error={months.error ?? restore.error ?? releaseRestore.error} />
    </section>
  );
}

export function Retention({ canManage }: { canManage: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.retention.pathKey() });
  return (
    <div className="space-y-4">
      <Policy canManage={canManage} onChange={refresh} />
      <Holds canManage={canManage} onChange={refresh} />
      <Months canManage={canManage} onChange={refresh} />
    </div>
  );
}
