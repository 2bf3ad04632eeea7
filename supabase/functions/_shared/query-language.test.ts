/**
 * The query language: what each form means as a filter tree, the one
 * plain-language error (and its position) for each kind of mistake, and the
 * round trip — a printed tree re-parses to the same tree, for random trees.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NULLABLE_TEXT_COLUMNS, TEXT_COLUMNS, type ContextPath, type FilterExpr, type JsonScalar } from './filter-tree.ts';
import { andCondition, conditionText, parseQuery, printQuery, QUERY_MAX_LENGTH } from './query-language.ts';

function tree(text: string): FilterExpr {
  const result = parseQuery(text);
  if (!result.ok) throw new Error(`${text}: ${result.message} at ${result.at}`);
  return result.expr;
}

function error(text: string) {
  const result = parseQuery(text);
  if (result.ok) throw new Error(`${text} parsed: ${JSON.stringify(result.expr)}`);
  return { message: result.message, at: result.at, length: result.length };
}

describe('query language: meaning', () => {
  it('reads conditions on columns and context paths', () => {
    expect(tree('')).toEqual({ op: 'and', args: [] });
    expect(tree('  ')).toEqual({ op: 'and', args: [] });
    expect(tree('event_type = CANCEL')).toEqual({ op: 'eq', field: 'event_type', value: 'CANCEL' });
    expect(tree('actor = alice@example.com')).toEqual({ op: 'eq', field: 'actor_id', value: 'alice@example.com' });
    expect(tree('object=ORD-1')).toEqual({ op: 'eq', field: 'object_id', value: 'ORD-1' });
    expect(tree('symbol = AAPL')).toEqual({ op: 'eq', field: { context: ['symbol'] }, value: 'AAPL' });
    expect(tree('after.status = FILLED')).toEqual({ op: 'eq', field: { context: ['after', 'status'] }, value: 'FILLED' });
    expect(tree('context.source = x')).toEqual({ op: 'eq', field: { context: ['source'] }, value: 'x' });
    expect(tree('"a.b" = dot')).toEqual({ op: 'eq', field: { context: ['a.b'] }, value: 'dot' });
    expect(tree('context."c/d~e".x = 1')).toEqual({ op: 'eq', field: { context: ['c/d~e', 'x'] }, value: 1 });
  });

  it('keeps JSON types of context values, text for columns', () => {
    expect(tree('qty = 100')).toEqual({ op: 'eq', field: { context: ['qty'] }, value: 100 });
    expect(tree('qty = "100"')).toEqual({ op: 'eq', field: { context: ['qty'] }, value: '100' });
    expect(tree('flag = true')).toEqual({ op: 'eq', field: { context: ['flag'] }, value: true });
    expect(tree('note = null')).toEqual({ op: 'eq', field: { context: ['note'] }, value: null });
    expect(tree('object_id = 100')).toEqual({ op: 'eq', field: 'object_id', value: '100' });
    expect(tree('seq = 42')).toEqual({ op: 'eq', field: 'seq', value: 42 });
    expect(tree('actor_id = "o\'hara \\"x\\""')).toEqual({ op: 'eq', field: 'actor_id', value: 'o\'hara "x"' });
  });

  it('combines with AND, OR, NOT and parentheses (NOT binds tightest, then AND)', () => {
    const a = { op: 'eq', field: { context: ['symbol'] }, value: 'AAPL' };
    const m = { op: 'eq', field: { context: ['symbol'] }, value: 'MSFT' };
    const c = { op: 'eq', field: 'event_type', value: 'CANCEL' };
    expect(tree('symbol = AAPL or symbol = MSFT')).toEqual({ op: 'or', args: [a, m] });
    expect(tree('symbol = AAPL OR symbol = MSFT AND event_type = CANCEL')).toEqual({ op: 'or', args: [a, { op: 'and', args: [m, c] }] });
    expect(tree('(symbol = AAPL or symbol = MSFT) and event_type = CANCEL')).toEqual({ op: 'and', args: [{ op: 'or', args: [a, m] }, c] });
    expect(tree('not symbol = AAPL and event_type = CANCEL')).toEqual({ op: 'and', args: [{ op: 'not', arg: a }, c] });
    expect(tree('NOT (symbol = AAPL OR symbol = MSFT)')).toEqual({ op: 'not', arg: { op: 'or', args: [a, m] } });
    expect(tree('symbol != AAPL')).toEqual({ op: 'not', arg: a });
    expect(tree('a = 1 AND b = 2 AND c = 3')).toMatchObject({ op: 'and', args: [{}, {}, {}] });
  });

  it('matches ranges of numbers and times', () => {
    expect(tree('last_px > 400')).toEqual({ op: 'range', field: { context: ['last_px'] }, gt: 400 });
    expect(tree('qty <= -3.5')).toEqual({ op: 'range', field: { context: ['qty'] }, lte: -3.5 });
    expect(tree('seq >= 10')).toEqual({ op: 'range', field: 'seq', gte: 10 });
    expect(tree('occurred_at >= 2025-01-31T14:30:00+02:00')).toEqual({ op: 'range', field: 'occurred_at', gte: '2025-01-31T12:30:00.000000Z' });
    expect(tree('occurred_at < 2025-02-01T00:00:00.5Z')).toEqual({ op: 'range', field: 'occurred_at', lt: '2025-02-01T00:00:00.500000Z' });
    // A bare date is the whole day.
    expect(tree('occurred_at >= 2025-01-31')).toEqual({ op: 'range', field: 'occurred_at', gte: '2025-01-31T00:00:00.000000Z' });
    expect(tree('occurred_at < 2025-01-31')).toEqual({ op: 'range', field: 'occurred_at', lt: '2025-01-31T00:00:00.000000Z' });
    expect(tree('occurred_at <= 2025-01-31')).toEqual({ op: 'range', field: 'occurred_at', lt: '2025-02-01T00:00:00.000000Z' });
    expect(tree('received_at > 2025-01-31')).toEqual({ op: 'range', field: 'received_at', gte: '2025-02-01T00:00:00.000000Z' });
  });

  it('matches prefixes, ignores case with ~, tests presence with EXISTS, lists with IN', () => {
    expect(tree('object_id = ORD-10*')).toEqual({ op: 'prefix', field: 'object_id', value: 'ORD-10' });
    expect(tree('object_id = "ORD 1"*')).toEqual({ op: 'prefix', field: 'object_id', value: 'ORD 1' });
    expect(tree('object_id = "ORD*"')).toEqual({ op: 'eq', field: 'object_id', value: 'ORD*' });
    expect(tree('actor ~ Alice@Example.com')).toEqual({ op: 'ieq', field: 'actor_id', value: 'Alice@Example.com' });
    expect(tree('actor ~ trader*')).toEqual({ op: 'iprefix', field: 'actor_id', value: 'trader' });
    expect(tree('symbol !~ aapl')).toEqual({ op: 'not', arg: { op: 'ieq', field: { context: ['symbol'] }, value: 'aapl' } });
    expect(tree('source exists')).toEqual({ op: 'exists', field: 'source' });
    expect(tree('NOT after.venue EXISTS')).toEqual({ op: 'not', arg: { op: 'exists', field: { context: ['after', 'venue'] } } });
    expect(tree('symbol in (AAPL, MSFT, 7)')).toEqual({ op: 'in', field: { context: ['symbol'] }, values: ['AAPL', 'MSFT', 7] });
    expect(tree('event_type IN (FILL,CANCEL)')).toEqual({ op: 'in', field: 'event_type', values: ['FILL', 'CANCEL'] });
  });
});

describe('query language: one plain message at the place of the error', () => {
  it.each([
    ['symbol = ', 9, /Expected a value after "="/],
    ['symbol AAPL', 7, /Expected a comparison after "symbol"/],
    ['symbol = AAPL MSFT', 14, /Expected AND, OR or the end of the query before "MSFT"/],
    ['(symbol = AAPL', 0, /never closed/],
    ['symbol = AAPL)', 13, /closes no "\("/],
    ['symbol = "AAPL', 9, /quoted value is never closed/],
    ['AND symbol = AAPL', 0, /not the keyword AND/],
    ['symbol = AAPL AND', 17, /Expected a condition/],
    ['NOT', 0, /Expected a condition after NOT/],
    ['last_px > abc', 10, /"abc" is not a number/],
    ['actor_id > 3', 9, /actor_id is text/],
    ['occurred_at = 2025-01-01', 12, /Times are compared with/],
    ['occurred_at >= 2025-13-01', 15, /is not a date or time/],
    ['actor_id exists', 0, /Every event has actor_id/],
    ['seq IN (1, 2)', 4, /IN compares text/],
    ['symbol = A*B', 9, /"\*" may appear only once|Put quotes/],
    ['symbol = *', 9, /to match any value write EXISTS/],
    ['symbol = a=b', 9, /Put quotes around a value that contains "="/],
    ['ip_address = 1.2.3.4*', 20, /IP addresses compare only for equality/],
    ['ip_address ~ 1.2.3.4', 11, /IP addresses compare only for equality/],
    ['ip_address = 1.2.3', 13, /is not an IP address/],
    ['observed_ip EXISTS', 0, /IP addresses compare only for equality/],
    ['context = x', 0, /Name a field inside the context/],
    ['actor_id.x = 1', 0, /actor_id has no fields inside it/],
    ['id = 12', 5, /not an event id/],
    ['seq ~ 1', 4, /seq is a number/],
    ['symbol in (A, B', 10, /never closed/],
    ['()', 1, /inside the parentheses/],
    ['symbol = "a\\q"', 9, /backslash/],
  ])('%s', (text, at, message) => {
    const e = error(text);
    expect(e.message).toMatch(message);
    expect(e.at).toBe(at);
  });

  it('refuses queries too long or too deep, without throwing', () => {
    expect(error('a = 1 OR '.repeat(600) + 'a = 1').message).toMatch(/at most 4096 characters|at most 200 conditions/);
    expect(error('('.repeat(40) + 'a = 1' + ')'.repeat(40)).message).toMatch(/nests more than/);
    expect(error('x'.repeat(QUERY_MAX_LENGTH + 1)).message).toMatch(/at most 4096/);
  });

  it('never throws, and places every error inside the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ab =!<>~()",*.\\ AND OR NOT IN exists 1 -:'.split('')), maxLength: 40 }), (text) => {
        const result = parseQuery(text);
        if (!result.ok) {
          expect(result.at).toBeGreaterThanOrEqual(0);
          expect(result.at).toBeLessThanOrEqual(text.length);
          expect(result.message.length).toBeGreaterThan(5);
        }
      }),
      { seed: 14_2026, numRuns: 3000 },
    );
  });
});

// ---- Round trip ----

const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('AAPL', 'ORD-1', 'alice@example.com', 'and', 'OR', 'not', 'in', 'EXISTS', '100', '-3.5', 'true', 'null', '', ' ', 'a b', 'o\'hara', '"q"', 'a*', '(x)', 'x.y', 'context', 'actor_id', 'ä€😀'),
);
const nonEmpty = anyText.filter((s) => s.length > 0);
const finite = fc.oneof(fc.integer({ min: -1e9, max: 1e9 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0.1, 1e21, 2 ** 53 - 1, -0.5)).map((n) => (n === 0 ? 0 : n));
const scalar: fc.Arbitrary<JsonScalar> = fc.oneof(anyText, finite, fc.constantFrom(true, false, null));
const path: fc.Arbitrary<ContextPath> = fc.array(anyText, { minLength: 1, maxLength: 3 }).map((context) => ({ context }));
const textColumn = fc.constantFrom(...TEXT_COLUMNS.filter((c) => c !== 'id'));
const uuid = fc.uuid();
const iso = fc.integer({ min: 0, max: 4102444800000 * 1000 }).map((micros) => `${new Date(Math.floor(micros / 1000)).toISOString().slice(0, 19)}.${String(micros % 1_000_000).padStart(6, '0')}Z`);
const bound = <T,>(value: fc.Arbitrary<T>) => fc.tuple(fc.constantFrom('gte', 'gt', 'lte', 'lt'), value).map(([k, v]) => ({ [k]: v }));

const predicate: fc.Arbitrary<FilterExpr> = fc.oneof(
  fc.record({ op: fc.constant('eq' as const), field: textColumn, value: anyText }),
  fc.record({ op: fc.constant('eq' as const), field: fc.constant('id' as const), value: uuid }),
  fc.record({ op: fc.constant('eq' as const), field: fc.constantFrom('seq' as const, 'schema_version' as const), value: finite }),
  fc.record({ op: fc.constant('eq' as const), field: path, value: scalar }),
  fc.record({ op: fc.constant('in' as const), field: textColumn, values: fc.array(anyText, { minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constant('in' as const), field: path, values: fc.array(scalar, { minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constantFrom('prefix' as const, 'iprefix' as const), field: fc.oneof(textColumn, path), value: nonEmpty }),
  fc.record({ op: fc.constant('ieq' as const), field: fc.oneof(textColumn, path), value: anyText }),
  fc.record({ op: fc.constant('exists' as const), field: fc.oneof(fc.constantFrom(...NULLABLE_TEXT_COLUMNS), path) }),
  fc.tuple(fc.constantFrom('occurred_at' as const, 'received_at' as const), bound(iso)).map(([field, b]) => ({ op: 'range' as const, field, ...b })),
  fc.tuple(fc.oneof(fc.constantFrom('seq' as const, 'schema_version' as const), path), bound(finite)).map(([field, b]) => ({ op: 'range' as const, field, ...b })),
) as fc.Arbitrary<FilterExpr>;

const anyTree: fc.Arbitrary<FilterExpr> = fc.letrec<{ node: FilterExpr }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    predicate,
    fc.record({ op: fc.constantFrom('and' as const, 'or' as const), args: fc.array(tie('node'), { minLength: 2, maxLength: 3 }) }),
    fc.record({ op: fc.constant('not' as const), arg: tie('node') }),
  ) as fc.Arbitrary<FilterExpr>,
})).node;

describe('query language: printing', () => {
  it('a printed query re-parses to the same filter tree', () => {
    fc.assert(
      fc.property(anyTree, (expr) => {
        const text = printQuery(expr);
        const back = parseQuery(text);
        expect(back, text).toEqual({ ok: true, expr });
        expect(printQuery(back.ok ? back.expr : expr)).toBe(text);
      }),
      { seed: 14_2026, numRuns: 2000 },
    );
  });

  it('prints what people would write', () => {
    expect(printQuery(tree('(symbol = AAPL or symbol = MSFT) and not event_type = CANCEL and qty > 100'))).toBe('(symbol = AAPL OR symbol = MSFT) AND NOT event_type = CANCEL AND qty > 100');
    expect(printQuery(tree('context.actor_id = x and code = "100" and "a b" exists'))).toBe('context.actor_id = x AND code = "100" AND "a b" EXISTS');
    expect(printQuery(tree(''))).toBe('');
  });

  it('adds a condition to a query, keeping its meaning', () => {
    expect(andCondition('', conditionText('event_type', 'CANCEL'))).toBe('event_type = CANCEL');
    expect(andCondition('symbol = AAPL or symbol = MSFT', conditionText('actor_id', 'a b', true))).toBe('(symbol = AAPL or symbol = MSFT) AND NOT actor_id = "a b"');
    expect(tree(andCondition('a = 1 or b = 2', 'c = 3'))).toMatchObject({ op: 'and', args: [{ op: 'or' }, { op: 'eq' }] });
  });
});
