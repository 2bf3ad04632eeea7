'use client';
/**
 * The Streams page (admin): add a log stream to a SIEM (webhook, Splunk HEC,
 * Datadog, S3 NDJSON), see each stream's delivery status (refreshed every few
 * seconds), pause, resume, replace its credential or remove it. A generated
 * webhook secret is shown once.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { errorMessage, useTRPC } from '@/lib/trpc.tsx';
import { Timestamp } from './timestamp.tsx';

type Format = 'webhook' | 'splunk_hec' | 'datadog' | 's3_ndjson';

const FORMAT_LABELS: Record<Format, string> = {
  webhook: 'HTTPS webhook (signed JSON batches)',
  splunk_hec: 'Splunk HTTP Event Collector',
  datadog: 'Datadog logs',
  s3_ndjson: 'S3 NDJSON objects',
};

const STATUS_LABELS: Record<string, { text: string; className: string }> = {
  up_to_date: { text: 'Up to date', className: 'text-emerald-800 dark:text-emerald-300' },
  delivering: { text: 'Delivering', className: 'text-slate-800 dark:text-slate-200' },
  retrying: { text: 'Retrying', className: 'text-amber-800 dark:text-amber-300' },
  failing: { text: 'Failing', className: 'font-semibold text-red-700 dark:text-red-300' },
  paused: { text: 'Paused', className: 'text-slate-700 dark:text-slate-300' },
};

/** The form's fields per format: [field, label, type, required]. Credentials are password fields. */
const FIELDS: Record<Format, [string, string, 'text' | 'password' | 'checkbox', boolean][]> = {
  webhook: [['url', 'Receiver URL (https://)', 'text', true]],
  splunk_hec: [
    ['url', 'HEC URL (https://splunk:8088)', 'text', true],
    ['token', 'HEC token', 'password', true],
    ['index', 'Index (optional)', 'text', false],
    ['host', 'Host field (optional)', 'text', false],
  ],
  datadog: [
    ['url', 'Intake URL (optional; default US1)', 'text', false],
    ['api_key', 'Datadog API key', 'password', true],
    ['service', 'Service (optional)', 'text', false],
    ['tags', 'Extra tags (optional, key:value,…)', 'text', false],
  ],
  s3_ndjson: [
    ['bucket', 'Bucket', 'text', true],
    ['prefix', 'Prefix (optional)', 'text', false],
    ['region', 'Region (optional)', 'text', false],
    ['endpoint', 'Endpoint for S3-compatible storage (optional)', 'text', false],
    ['force_path_style', 'Path-style addressing', 'checkbox', false],
    ['access_key_id', 'Access key ID', 'text', true],
    ['secret_access_key', 'Secret access key', 'password', true],
  ],
};

function AddStream({ onSecret }: { onSecret: (secret: string | null) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [format, setFormat] = useState<Format>('webhook');
  const [name, setName] = useState('');
  const [start, setStart] = useState<'now' | 'beginning'>('now');
  const [values, setValues] = useState<Record<string, string | boolean>>({});
  const create = useMutation(
    trpc.streams.create.mutationOptions({
      onSuccess: (data) => {
        onSecret(data.secret);
        setValues({});
        setName('');
        void queryClient.invalidateQueries({ queryKey: trpc.streams.list.queryKey() });
      },
    }),
  );
  return (
    <form
      className="card space-y-3 p-3"
      aria-label="Add a stream"
      onSubmit={(e) => {
        e.preventDefault();
        const fields = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== '' && v !== undefined));
        create.mutate({ format, name, start, ...fields } as Parameters<typeof create.mutate>[0]);
      }}
    >
      <div className="flex flex-wrap items-end gap-4">
        <div>
          <label htmlFor={`${id}-name`} className="field-label">
            Stream name
          </label>
          <input id={`${id}-name`} className="field-input" value={name} onChange={(e) => setName(e.target.value)} required placeholder="security SIEM" />
        </div>
        <div>
          <label htmlFor={`${id}-format`} className="field-label">
            Destination
          </label>
          <select
            id={`${id}-format`}
            className="field-input"
            value={format}
            onChange={(e) => {
              setFormat(e.target.value as Format);
              setValues({});
            }}
          >
            {(Object.keys(FORMAT_LABELS) as Format[]).map((f) => (
              <option key={f} value={f}>
                {FORMAT_LABELS[f]}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-start`} className="field-label">
            Start with
          </label>
          <select id={`${id}-start`} className="field-input" value={start} onChange={(e) => setStart(e.target.value as 'now' | 'beginning')}>
            <option value="now">Events written from now on</option>
            <option value="beginning">The whole trail (seq 1)</option>
          </select>
        </div>
      </div>
      <div className="flex flex-wrap items-end gap-4">
        {FIELDS[format].map(([field, label, type, required]) =>
          type === 'checkbox' ? (
            <label key={field} className="flex items-center gap-1 text-sm">
              <input type="checkbox" checked={values[field] === true} onChange={(e) => setValues({ ...values, [field]: e.target.checked })} />
              {label}
            </label>
          ) : (
            <div key={field}>
              <label htmlFor={`${id}-${field}`} className="field-label">
                {label}
              </label>
              <input
                id={`${id}-${field}`}
                className="field-input min-w-72"
                type={type}
                autoComplete={type === 'password' ? 'off' : undefined}
                required={required}
                value={(values[field] as string | undefined) ?? ''}
                onChange={(e) => setValues({ ...values, [field]: e.target.value })}
              />
            </div>
          ),
        )}
        <button type="submit" className="btn-primary" disabled={create.isPending}>
          Add stream
        </button>
      </div>
      {create.isError ? (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {errorMessage(create.error)}
        </p>
      ) : null}
    </form>
  );
}

export function Streams() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [secret, setSecret] = useState<string | null>(null);
  const list = useQuery({ ...trpc.streams.list.queryOptions(), refetchInterval: 3000 });
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.streams.list.queryKey() });
  const pause = useMutation(trpc.streams.pause.mutationOptions({ onSuccess: refresh }));
  const resume = useMutation(trpc.streams.resume.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.streams.remove.mutationOptions({ onSuccess: refresh }));
  const rotate = useMutation(trpc.streams.changeSecret.mutationOptions({ onSuccess: (data) => (setSecret(data.secret), refresh()) }));
  const failure = [pause, resume, remove, rotate].find((m) => m.isError)?.error;

  return (
    <div className="space-y-4">
      <AddStream onSecret={setSecret} />
      {secret ? (
        <div role="status" className="card border-amber-400 bg-amber-50 p-3 text-sm dark:border-amber-600 dark:bg-amber-950">
          <p className="font-medium">Copy the webhook secret now: it is shown only once. Your receiver checks each request&apos;s signature with it (Standard Webhooks).</p>
          <div className="mt-2 flex items-center gap-2">
            <label htmlFor={`${id}-secret`} className="sr-only">
              Webhook secret
            </label>
            <input id={`${id}-secret`} readOnly value={secret} className="field-input max-w-xl font-mono" onFocus={(e) => e.currentTarget.select()} />
          </div>
        </div>
      ) : null}

      {list.isPending ? (
        <div className="skeleton h-32" aria-busy="true" aria-label="Loading streams" />
      ) : list.isError ? (
        <p role="alert">{errorMessage(list.error)}</p>
      ) : list.data.length === 0 ? (
        <p className="card p-8 text-center text-slate-700 dark:text-slate-300">No streams yet. Add one to deliver this tenant&apos;s trail to your SIEM.</p>
      ) : (
        <table className="card w-full text-sm">
          <caption className="sr-only">Log streams of this tenant</caption>
          <thead className="bg-slate-100 text-left dark:bg-slate-800">
            <tr>
              <th scope="col" className="px-3 py-2">Name</th>
              <th scope="col" className="px-3 py-2">Destination</th>
              <th scope="col" className="px-3 py-2">Status</th>
              <th scope="col" className="px-3 py-2">Delivered</th>
              <th scope="col" className="px-3 py-2">Last delivery (UTC)</th>
              <th scope="col" className="px-3 py-2">Last error</th>
              <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((s) => {
              const status = STATUS_LABELS[s.status] ?? STATUS_LABELS.delivering!;
              return (
                <tr key={s.id} className="border-t border-slate-200 align-top dark:border-slate-700">
                  <td className="px-3 py-2 font-medium">{s.name}</td>
                  <td className="px-3 py-2">
                    <div>{FORMAT_LABELS[s.format as Format]}</div>
                    <div className="font-mono text-xs break-all">{s.destination}</div>
                  </td>
                  <td className={`px-3 py-2 ${status.className}`} data-testid={`stream-status-${s.name}`}>
                    {status.text}
                    {s.status === 'failing' || s.status === 'retrying' ? <div className="text-xs">since <Timestamp iso={s.failing_since!} /></div> : null}
                    {s.paused_reason ? <div className="text-xs">{s.paused_reason}</div> : null}
                  </td>
                  <td className="px-3 py-2 tabular-nums" data-testid={`stream-progress-${s.name}`}>
                    {s.delivered_seq >= s.start_seq ? `through seq ${s.delivered_seq}` : 'nothing yet'} of {s.sealed_seq} sealed
                    {s.pending_events > 0 ? <div className="text-xs">{s.pending_events} to send</div> : null}
                  </td>
                  <td className="px-3 py-2 tabular-nums">{s.last_success_at ? <Timestamp iso={s.last_success_at} /> : 'never'}</td>
                  <td className="max-w-xs px-3 py-2 text-xs break-words">{s.last_error ?? '—'}</td>
                  <td className="space-x-1 px-3 py-2 text-right whitespace-nowrap">
                    {s.state === 'active' ? (
                      <button type="button" className="btn" aria-label={`Pause stream ${s.name}`} onClick={() => pause.mutate({ id: s.id })}>
                        Pause
                      </button>
                    ) : (
                      <button type="button" className="btn" aria-label={`Resume stream ${s.name}`} onClick={() => resume.mutate({ id: s.id })}>
                        Resume
                      </button>
                    )}
                    {s.format === 'webhook' ? (
                      <button
                        type="button"
                        className="btn"
                        aria-label={`New secret for stream ${s.name}`}
                        onClick={() => {
                          if (window.confirm(`Give "${s.name}" a new secret? The current one keeps signing for 24 hours.`)) rotate.mutate({ id: s.id });
                        }}
                      >
                        New secret
                      </button>
                    ) : null}
                    <button
                      type="button"
                      className="btn-danger"
                      aria-label={`Remove stream ${s.name}`}
                      onClick={() => {
                        if (window.confirm(`Remove "${s.name}"? Delivery stops; what was delivered stays with the receiver.`)) remove.mutate({ id: s.id });
                      }}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {failure ? (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {errorMessage(failure)}
        </p>
      ) : null}
    </div>
  );
}
