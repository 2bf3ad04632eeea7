import { diffFields, formatValue } from '@/lib/diff.ts';

/** Before/after of one change: changed fields first, highlighted. */
export function DiffTable({ before, after, caption }: { before: Record<string, unknown>; after: Record<string, unknown>; caption: string }) {
  const rows = diffFields(before, after);
  return (
    <table className="w-full border-collapse text-sm">
      <caption className="sr-only">{caption}</caption>
      <thead>
        <tr className="border-b border-slate-200 text-left dark:border-slate-700">
          <th scope="col" className="px-2 py-1 font-medium">
            Field
          </th>
          <th scope="col" className="px-2 py-1 font-medium">
            Before
          </th>
          <th scope="col" className="px-2 py-1 font-medium">
            After
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.field} className="border-b border-slate-100 align-top dark:border-slate-800" data-changed={r.changed}>
            <th scope="row" className="px-2 py-1 text-left font-mono font-normal">
              {r.field}
            </th>
            <td className={`px-2 py-1 font-mono ${r.changed ? 'bg-red-50 text-red-900 line-through decoration-red-400 dark:bg-red-950 dark:text-red-200' : ''}`}>{formatValue(r.before)}</td>
            <td className={`px-2 py-1 font-mono ${r.changed ? 'bg-green-50 text-green-900 dark:bg-green-950 dark:text-green-200' : ''}`}>{formatValue(r.after)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
