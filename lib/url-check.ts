/**
 * A search link is a permalink, so a value in it that the console cannot use
 * (a mistyped range, an event type this tenant never recorded, a parameter
 * that is not a filter) is named on the page rather than silently dropped:
 * the person then knows the results are not what the link asked for.
 */
import { COLUMNS, searchParsers, TIME_PRESETS } from './search-params.ts';

/** Literal-valued parameters and the values they accept. */
const ALLOWED: Record<string, readonly string[]> = {
  range: TIME_PRESETS.map((p) => p.value),
  outcome: ['success', 'failure'],
  order: ['desc', 'asc'],
};

/** One sentence per value of the link that was not applied as written. */
export function unknownSearchValues(params: URLSearchParams, options: { eventTypes?: readonly string[] | null; extraKeys?: readonly string[] } = {}): string[] {
  const known = new Set([...Object.keys(searchParsers), ...(options.extraKeys ?? [])]);
  const problems: string[] = [];
  for (const [key, value] of params) {
    if (!known.has(key)) {
      problems.push(`"${key}" is not a search filter; it was not applied.`);
      continue;
    }
    const allowed = ALLOWED[key];
    if (allowed && !allowed.includes(value)) {
      problems.push(`${key}=${value} is not one of ${allowed.join(', ')}; it was not applied.`);
    } else if (key === 'cols') {
      const columns = COLUMNS.map((c) => c.key as string);
      const unknown = value.split(',').filter((c) => c && !columns.includes(c));
      if (unknown.length) problems.push(`The column${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')} do${unknown.length === 1 ? 'es' : ''} not exist; the default columns are shown.`);
    } else if (key === 'event_type' && options.eventTypes) {
      const types = new Set(options.eventTypes);
      for (const type of value.split(',').filter(Boolean)) {
        if (!types.has(type)) problems.push(`No event in this tenant has the type ${type}; it matches nothing.`);
      }
    }
  }
  return problems;
}
