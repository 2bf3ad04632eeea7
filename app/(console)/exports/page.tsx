import type { Metadata } from 'next';
import { consoleSession } from '@/server/console.ts';
import { Forbidden } from '@/components/console/forbidden.tsx';
import { Timestamp } from '@/components/console/timestamp.tsx';
import { RefreshWhile } from '@/components/console/refresh-while.tsx';
import { exportFormat } from '@/lib/export-formats.ts';
import { describeFilters } from '@/lib/search-params.ts';

export const metadata: Metadata = { title: 'Exports' };

export default async function ExportsPage() {
  const session = (await consoleSession())!;
  if (!session.can('events:export')) return <Forbidden what="Exporting" role="auditor or admin" />;
  const exports = await session.api.exports.list();
  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Exports</h1>
      <RefreshWhile active={exports.some((m) => m.status === 'streaming')} />
      <p className="text-sm text-slate-700 dark:text-slate-300">
        Every export has a manifest: who exported what, when, with which filters, which months it read (from PostgreSQL or their archive), how many rows
        and the file&apos;s SHA-256, so a regulator can check the file.
      </p>
      {exports.length === 0 ? (
        <p className="card p-8 text-center text-slate-700 dark:text-slate-300">No exports yet. Export from the search page.</p>
      ) : (
        <table className="card w-full text-sm">
          <caption className="sr-only">Recent exports</caption>
          <thead className="bg-slate-100 text-left dark:bg-slate-800">
            <tr>
              <th scope="col" className="px-3 py-2">Started (UTC)</th>
              <th scope="col" className="px-3 py-2">By</th>
              <th scope="col" className="px-3 py-2">Format</th>
              <th scope="col" className="px-3 py-2">Filters</th>
              <th scope="col" className="px-3 py-2">Months read</th>
              <th scope="col" className="px-3 py-2">Rows</th>
              <th scope="col" className="px-3 py-2">Status</th>
              <th scope="col" className="px-3 py-2">SHA-256</th>
              <th scope="col" className="px-3 py-2">Manifest</th>
            </tr>
          </thead>
          <tbody>
            {exports.map((m) => (
              <tr key={m.export_id} className="border-t border-slate-200 dark:border-slate-700">
                <td className="px-3 py-2 tabular-nums"><Timestamp iso={m.started_at} /></td>
                <td className="px-3 py-2">{m.exported_by.kind === 'user' ? m.exported_by.email : m.exported_by.kind === 'api_key' ? `API key ${m.exported_by.key_id.slice(0, 8)}…` : `CLI (${m.exported_by.os_user})`}</td>
                <td className="px-3 py-2">
                  {exportFormat(m.format, m.excel).label}
                  {m.bundle ? ' (bundle)' : ''}
                </td>
                <td className="max-w-[16rem] px-3 py-2 text-xs">{describeFilters(m.filters).join('; ') || 'every event'}</td>
                <td className="px-3 py-2 text-xs tabular-nums">{monthsRead(m.months)}</td>
                <td className="px-3 py-2 tabular-nums">{m.row_count?.toLocaleString('en-US') ?? '—'}</td>
                <td className="px-3 py-2">{m.status}</td>
                <td className="max-w-[12rem] truncate px-3 py-2 font-mono text-xs" title={m.sha256 ?? ''}>
                  {m.sha256 ?? '—'}
                </td>
                <td className="px-3 py-2">
                  <a className="link" href={`/api/v1/audit/exports/${m.export_id}/manifest?download=1`} download>
                    Download JSON
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** "3 (1 from its archive)": how many months the export read, and how many of them from archive files. */
function monthsRead(months: { archived_rows: number; archive_parts: unknown[] }[] | undefined): string {
  if (!months) return '—';
  const archived = months.filter((m) => m.archive_parts.length).length;
  return `${months.length}${archived ? ` (${archived} from archive)` : ''}`;
}
