'use client';
/**
 * The search page's Query box: the query language (docs/query-language.md)
 * with its examples one click away, and an invalid query's one message shown
 * at the input, pointing at the place of the error.
 */
import { useId } from 'react';
import type { QueryProblem } from '@/lib/search-params.ts';

export const QUERY_EXAMPLES: { query: string; meaning: string }[] = [
  { query: 'symbol = AAPL OR symbol = MSFT', meaning: 'either symbol (context fields by name)' },
  { query: 'last_px > 400 AND side = BUY', meaning: 'numbers compare with < <= > >=' },
  { query: 'NOT event_type IN (FILL, CANCEL)', meaning: 'NOT, and IN for a list of values' },
  { query: '(symbol = AAPL OR symbol = MSFT) AND NOT actor = bob', meaning: 'parentheses group' },
  { query: 'actor ~ trader.y@firm.example', meaning: '~ ignores upper and lower case' },
  { query: 'object = ORD-1006*', meaning: '* at the end: starts with' },
  { query: 'occurred_at >= 2026-11-02 AND occurred_at < 2026-11-03T14:30:00Z', meaning: 'times (UTC unless the time says otherwise)' },
  { query: 'after.status EXISTS AND source = "oms gateway"', meaning: 'EXISTS tests presence; quotes hold spaces' },
];

export function QueryInput({ value, onChange, problem }: { value: string; onChange: (value: string) => void; problem: QueryProblem | null }) {
  const id = useId();
  return (
    <div className="col-span-2 md:col-span-4">
      <div className="flex items-baseline justify-between gap-2">
        <label htmlFor={id} className="field-label">
          Query
        </label>
        <details className="relative text-xs">
          <summary className="cursor-pointer text-blue-800 underline dark:text-blue-300">Query help</summary>
          <div className="card absolute right-0 z-30 mt-1 w-[36rem] max-w-[90vw] space-y-2 p-3 text-sm shadow-lg" data-testid="query-help">
            <p>
              Conditions are <code>field operator value</code>, joined with <code>AND</code>, <code>OR</code>, <code>NOT</code> and parentheses. Fields are event fields (
              <code>event_type</code>, <code>actor</code>, <code>object</code>, <code>source</code>, <code>outcome</code>, <code>seq</code>, <code>occurred_at</code>, …) or context fields by name (
              <code>symbol</code>, <code>after.status</code>; <code>context.source</code> for a context field named like an event field). Operators: <code>=</code> <code>!=</code> <code>~</code> <code>!~</code>{' '}
              <code>&lt;</code> <code>&lt;=</code> <code>&gt;</code> <code>&gt;=</code> <code>IN (…)</code> <code>EXISTS</code>. A date alone means the whole day.
            </p>
            <ul className="space-y-1">
              {QUERY_EXAMPLES.map((e) => (
                <li key={e.query}>
                  <button type="button" className="link text-left font-mono text-xs" onClick={() => onChange(e.query)}>
                    {e.query}
                  </button>
                  <span className="ml-2 text-slate-600 dark:text-slate-400">— {e.meaning}</span>
                </li>
              ))}
            </ul>
          </div>
        </details>
      </div>
      <input
        id={id}
        name="q"
        className={`field-input font-mono ${problem ? 'border-red-600 dark:border-red-400' : ''}`}
        value={value}
        placeholder="symbol = AAPL OR symbol = MSFT"
        spellCheck={false}
        autoComplete="off"
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem ? `${id}-error` : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {problem ? <QueryError id={`${id}-error`} query={value} problem={problem} /> : null}
    </div>
  );
}

/** The message, and the query with the place of the error marked. */
function QueryError({ id, query, problem }: { id: string; query: string; problem: QueryProblem }) {
  const before = query.slice(0, problem.at);
  const marked = query.slice(problem.at, problem.at + problem.length);
  const after = query.slice(problem.at + problem.length);
  return (
    <div id={id} role="alert" className="mt-1 text-sm text-red-800 dark:text-red-200" data-testid="query-error">
      <p>
        {problem.message} (character {problem.at + 1}).
      </p>
      <p className="font-mono text-xs whitespace-pre-wrap text-slate-800 dark:text-slate-200" aria-hidden="true">
        {before}
        <mark className="rounded-sm bg-red-200 px-px text-red-950 dark:bg-red-900 dark:text-red-50">{marked || ' '}</mark>
        {after}
      </p>
    </div>
  );
}
