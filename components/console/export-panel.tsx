'use client';
/**
 * Exports of exactly the search on screen. The links download with every
 * filter the search applies, or not at all: while a filter is not valid the
 * buttons are disabled and the panel says why (the API would refuse it too).
 * Before a download the panel shows the exact filters and the search's
 * count and its time range in the chosen zone beside the exact UTC bounds;
 * after it, the export's manifest — its row count beside that count, its
 * status, SHA-256 and the range it covered, as the manifest records them.
 * Personal data goes into the file as stored (references), opened or masked
 * (docs/personal-data.md); the manifest's count of erased fields is shown.
 */
import { useQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { EXPORT_FORMATS, exportFormat, PERSONAL_EXPORT_MODES, type PersonalExportMode } from '@/lib/export-formats.ts';
import { apiQueryString, describeFilters } from '@/lib/search-params.ts';
import { useTRPC } from '@/lib/trpc.tsx';
import type { EventFiltersInput } from '@/supabase/functions/_shared/filters.ts';
import { formatInZone, formatUtc } from '@/lib/time.ts';
import { useTimeZone } from './time-zone.tsx';
import { useHydrated } from './use-hydrated.ts';

interface ExportKind {
  label: string;
  params: Record<string, string>;
  testId: string;
  title?: string;
  /** Carries only the stored form of personal data (Parquet: no personal_opened column). */
  storedOnly?: boolean;
}

const PERSONAL_MODE_LABELS: Record<PersonalExportMode, string> = {
  stored: 'As stored (references)',
  opened: 'Opened (readable values)',
  masked: 'Masked ([personal])',
};

const KINDS: ExportKind[] = [
  ...Object.values(EXPORT_FORMATS).map((spec) => ({
    label: spec.id === 'csv' ? 'Export CSV' : spec.label,
    params: { format: spec.manifestFormat, ...(spec.excel ? { excel: 'true' } : {}) },
    testId: `export-${spec.id}`,
    title: spec.id === 'parquet' ? 'Parquet (zstd, the archive schema) for analysts: DuckDB, Spark, Athena' : undefined,
    storedOnly: spec.id === 'parquet',
  })),
  {
    label: 'Verifiable bundle',
    params: { format: 'csv', bundle: 'true' },
    testId: 'export-bundle',
    title: 'CSV with its signed manifest, checkpoints, proofs and a standalone verifier, for a regulator to check offline',
  },
];

type Manifest = {
  export_id: string;
  status: string;
  exported_by: { kind: string };
  format: string;
  excel: boolean;
  filters: unknown;
  row_count: number | null;
  expected_row_count: number | null;
  sha256: string | null;
  error: string | null;
  bundle: unknown;
  time_range: { bounds?: { from: string | null; to: string | null } };
  display_time_zone?: { zone: string; from: string | null; to: string | null };
  personal?: { mode: PersonalExportMode; erased_fields: number | null };
};

/** The export's time range in words: in the chosen zone, and the exact UTC bounds (the file's times are UTC). */
export function rangeInWords(zone: string, bounds: { from: string | null; to: string | null }, local?: { from: string | null; to: string | null }): string {
  if (bounds.from === null && bounds.to === null) return `all time; times shown in ${zone}, in the file UTC`;
  const shown = (iso: string | null, l: string | null | undefined) => (iso === null ? null : (l ?? formatInZone(iso, zone)));
  const [from, to] = [shown(bounds.from, local?.from), shown(bounds.to, local?.to)];
  const inZone = `${from ? `from ${from}` : 'from the start'} ${to ? `to before ${to}` : 'to now'}`;
  const utc = `${bounds.from ? `from ${formatUtc(bounds.from)}` : 'from the start'} ${bounds.to ? `to before ${formatUtc(bounds.to)}` : 'to now'}`;
  return zone === 'UTC' ? `${utc}; the file's times are UTC` : `${inZone} (${zone}) = UTC ${utc}; the file's times are UTC`;
}

export function ExportPanel({ filters, order, count, blocked }: { filters: EventFiltersInput; order: 'asc' | 'desc'; count: { count: number; exact: boolean } | undefined; blocked: string | null }) {
  const trpc = useTRPC();
  const reason = useId();
  const modeId = useId();
  const [started, setStarted] = useState<{ kind: ExportKind; known: Set<string> } | null>(null);
  const [personal, setPersonal] = useState<PersonalExportMode>('stored');
  const list = useQuery({ ...trpc.exports.list.queryOptions(), refetchInterval: (q) => (started && !finishedIn(q.state.data as Manifest[] | undefined) ? 1000 : false) });
  const conditions = describeFilters(filters);
  const { zone } = useTimeZone();
  // A relative range is resolved against the browser's clock: its words are shown once hydrated, as the search page does.
  const hydrated = useHydrated();

  function finishedIn(manifests: Manifest[] | undefined): Manifest | null {
    return matching(manifests)?.status === 'streaming' ? null : matching(manifests);
  }
  function matching(manifests: Manifest[] | undefined): Manifest | null {
    if (!started || !manifests) return null;
    // The first export of this format started after the click, by a console user (the manifest list is newest first).
    const mine = manifests.filter((m) => !started.known.has(m.export_id) && m.exported_by.kind === 'user' && m.format === started.kind.params.format && m.excel === (started.kind.params.excel === 'true'));
    return mine[mine.length - 1] ?? null;
  }
  const latest = matching(list.data as Manifest[] | undefined);
  const href = (kind: ExportKind) =>
    `/api/v1/audit/events/export?${apiQueryString(filters, { order, ...kind.params, time_zone: zone, ...(personal === 'stored' ? {} : { personal }), ...(count?.exact ? { expected_rows: String(count.count) } : {}) })}`;

  return (
    <div className="ml-auto space-y-1 text-right">
      <div className="flex flex-wrap items-center justify-end gap-2" role="group" aria-label="Export">
        <label htmlFor={modeId} className="text-xs text-slate-700 dark:text-slate-300">
          Personal data
        </label>
        <select id={modeId} className="field-input w-auto text-xs" value={personal} data-testid="export-personal" onChange={(e) => setPersonal(e.target.value as PersonalExportMode)}>
          {PERSONAL_EXPORT_MODES.map((mode) => (
            <option key={mode} value={mode}>
              {PERSONAL_MODE_LABELS[mode]}
            </option>
          ))}
        </select>
        {KINDS.map((kind) =>
          blocked || (kind.storedOnly && personal !== 'stored') ? (
            <button
              key={kind.testId}
              type="button"
              className="btn"
              disabled
              aria-describedby={blocked ? reason : undefined}
              title={blocked ? undefined : `${kind.label} carries personal data as stored only`}
              data-testid={kind.testId}
            >
              {kind.label}
            </button>
          ) : (
            <a
              key={kind.testId}
              className="btn"
              href={href(kind)}
              download
              data-testid={kind.testId}
              title={kind.title}
              onClick={() => setStarted({ kind, known: new Set(((list.data ?? []) as Manifest[]).map((m) => m.export_id)) })}
            >
              {kind.label}
            </a>
          ),
        )}
      </div>
      {blocked ? (
        <p id={reason} role="alert" data-testid="export-blocked" className="text-xs text-red-700 dark:text-red-300">
          Exports are off until every filter is valid — {blocked}
        </p>
      ) : !hydrated ? (
        <span className="skeleton inline-block h-4 w-64 align-middle" />
      ) : (
        <p data-testid="export-summary" className="text-xs text-slate-700 dark:text-slate-300">
          {count ? (count.exact ? `${count.count.toLocaleString('en-US')} events` : `more than ${count.count.toLocaleString('en-US')} events`) : 'Counting…'}
          {conditions.length ? ` where ${conditions.join('; ')}` : ', every event of the trail'} ({order === 'desc' ? 'newest first' : 'oldest first'})
          <br />
          <span data-testid="export-range">Time range: {rangeInWords(zone, { from: typeof filters.from === 'string' ? filters.from : null, to: typeof filters.to === 'string' ? filters.to : null })}</span>
        </p>
      )}
      {started ? <ExportResult label={started.kind.label} manifest={latest} /> : null}
    </div>
  );
}

function ExportResult({ label, manifest }: { label: string; manifest: Manifest | null }) {
  if (!manifest || manifest.status === 'streaming') {
    return (
      <p role="status" data-testid="export-result" className="text-xs text-slate-700 dark:text-slate-300">
        {label}: downloading…
      </p>
    );
  }
  const format = exportFormat(manifest.format, manifest.excel).label;
  if (manifest.status !== 'complete') {
    return (
      <p role="status" data-testid="export-result" className="text-xs text-red-700 dark:text-red-300">
        {format} export failed: {manifest.error ?? 'it did not complete'}. The file is not complete.
      </p>
    );
  }
  const differs = manifest.expected_row_count !== null && manifest.expected_row_count !== manifest.row_count;
  return (
    <p role="status" data-testid="export-result" className="text-xs text-slate-700 dark:text-slate-300">
      {format}
      {manifest.bundle ? ' bundle' : ''} complete: {manifest.row_count?.toLocaleString('en-US')} rows
      {manifest.expected_row_count !== null ? ` (the search counted ${manifest.expected_row_count.toLocaleString('en-US')}${differs ? ': events arrived or left in between' : ''})` : ''} · SHA-256{' '}
      <span className="font-mono" title={manifest.sha256 ?? ''}>
        {manifest.sha256?.slice(0, 16)}…
      </span>{' '}
      ·{' '}
      {manifest.personal && manifest.personal.mode !== 'stored' ? (
        <span data-testid="export-result-personal">
          personal data {manifest.personal.mode}
          {manifest.personal.erased_fields !== null ? `, ${manifest.personal.erased_fields.toLocaleString('en-US')} erased ${manifest.personal.erased_fields === 1 ? 'field' : 'fields'} listed in the manifest` : ''} ·{' '}
        </span>
      ) : null}
      <a className="link" href={`/api/v1/audit/exports/${manifest.export_id}/manifest?download=1`} download>
        manifest
      </a>
      {manifest.time_range.bounds && manifest.display_time_zone ? (
        <>
          <br />
          <span data-testid="export-result-range">Covered: {rangeInWords(manifest.display_time_zone.zone, manifest.time_range.bounds, manifest.display_time_zone)}</span>
        </>
      ) : null}
    </p>
  );
}
