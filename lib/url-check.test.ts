import { describe, expect, it } from 'vitest';
import { unknownSearchValues } from './url-check.ts';

const check = (query: string, eventTypes?: string[]) => unknownSearchValues(new URLSearchParams(query), { eventTypes });

describe('values of a search link the console cannot apply', () => {
  it('accepts a link made of known filters and values', () => {
    expect(check('object_id=ORD-1&range=30d&outcome=failure&order=asc&cols=occurred_at,event_type&event_type=CREATE', ['CREATE'])).toEqual([]);
  });
  it('names an unknown time range, outcome and order', () => {
    expect(check('range=2y')).toEqual([expect.stringMatching(/^range=2y is not one of 15m, 1h, 24h, 7d, 30d, 90d, today, .*, all, custom; it was not applied\.$/)]);
    expect(check('outcome=ok&order=up')).toHaveLength(2);
  });
  it('names an event type the tenant never recorded, once the types are known', () => {
    expect(check('event_type=NOPE', ['CREATE', 'CANCEL'])).toEqual(['No event in this tenant has the type NOPE; it matches nothing.']);
    expect(check('event_type=NOPE')).toEqual([]);
  });
  it('names a parameter that is not a filter, and an unknown column', () => {
    expect(check('symbol=AAPL')).toEqual(['"symbol" is not a search filter; it was not applied.']);
    expect(check('cols=occurred_at,colour')).toEqual(['The column colour does not exist; the default columns are shown.']);
  });
});
