/** The search page's URL state as API filters: the query passes through as `q`, console activity is hidden unless asked for. */
import { describe, expect, it } from 'vitest';
import { describeFilters, filtersFromSearch, HIDE_CONSOLE_ACTIVITY, type SearchState } from './search-params.ts';

const blank: SearchState = { object_type: null, object_id: null, actor_id: null, actor_type: null, event_type: [], outcome: null, source: null, request_id: null, q: null, range: 'all', from: null, to: null, order: 'desc' };

describe('filtersFromSearch', () => {
  it('hides the console’s own events by default, and shows them when asked', () => {
    expect(filtersFromSearch(blank, 0)).toEqual({ filters: { q: HIDE_CONSOLE_ACTIVITY }, error: null });
    expect(filtersFromSearch({ ...blank, console: true }, 0)).toEqual({ filters: {}, error: null });
    expect(filtersFromSearch({ ...blank, event_type: ['AUDIT_SEARCH'] }, 0).filters).toEqual({ event_type: ['AUDIT_SEARCH'] });
  });

  it('sends the query as written, with the hiding condition after it', () => {
    expect(filtersFromSearch({ ...blank, q: ' symbol = AAPL or symbol = MSFT ' }, 0).filters).toEqual({ q: `(symbol = AAPL or symbol = MSFT) AND ${HIDE_CONSOLE_ACTIVITY}` });
    expect(filtersFromSearch({ ...blank, q: 'symbol = AAPL', console: true }, 0).filters).toEqual({ q: 'symbol = AAPL' });
  });

  it('reports an invalid query at its place in the box, and sends nothing', () => {
    expect(filtersFromSearch({ ...blank, q: '  symbol = ' }, 0)).toEqual({ filters: {}, error: { message: 'Expected a value after "=", not the end of the query', at: 11, length: 1 } });
  });

  it('describes the query among the filters', () => {
    expect(describeFilters({ q: 'symbol = AAPL', event_type: ['FILL', 'CANCEL'] })).toEqual(['query symbol = AAPL', 'event type FILL or CANCEL']);
  });
});
