/**
 * The search query language: what people type into the console's Query box
 * and send as `q` to the API and exports. One grammar, parsed here into the
 * one filter tree (filter-tree.ts) that every back end compiles, and printed
 * back from it (a printed query re-parses to the same tree). Small and
 * hand-written so that every error is one plain sentence at a character
 * position; docs/query-language.md is the user's reference.
 *
 *   query      = [ or ]                          (empty: every event)
 *   or         = and { "OR" and }
 *   and        = unary { "AND" unary }
 *   unary      = "NOT" unary | "(" or ")" | condition
 *   condition  = field ( op value | "IN" "(" value { "," value } ")" | "EXISTS" )
 *   op         = "=" | "!=" | "~" | "!~" | "<" | "<=" | ">" | ">="
 *   field      = segment { "." segment }         segment = name | string
 *   value      = ( word | string ) [ "*" ]       ("*" right after a value: starts with)
 *   string     = a JSON string ("…", backslash escapes)
 *
 * Keywords are case-insensitive. A field is an event column (actor_id,
 * object_id, event_type, …; `actor` and `object` for short) or a path into
 * the context (`symbol`, `after.status`, `context.source`). `~` ignores the
 * case of ASCII letters. Times take a date (the whole day) or an ISO 8601
 * timestamp with a zone; context values that read as JSON numbers, true,
 * false or null keep that type, quoted ones are strings.
 */
import { parseTimeBound } from './timestamps.ts';
import { canonicalIp } from './ip.ts';
import {
  and,
  IP_COLUMNS,
  isContextPath,
  NULLABLE_TEXT_COLUMNS,
  NUMBER_COLUMNS,
  or,
  TEXT_COLUMNS,
  TIME_COLUMNS,
  type Bounds,
  type ContextPath,
  type FilterExpr,
  type IpColumn,
  type JsonScalar,
  type NumberColumn,
  type TextColumn,
  type TimeColumn,
} from './filter-tree.ts';

export const QUERY_MAX_LENGTH = 4096;
const MAX_DEPTH = 32;
const MAX_CONDITIONS = 200;

export type QueryResult =
  | { ok: true; expr: FilterExpr }
  /** `at`: 0-based character offset of the problem; `length`: how many characters it spans (at least 1). */
  | { ok: false; message: string; at: number; length: number };

/** Short names people use for columns. */
const ALIASES: Record<string, TextColumn> = { actor: 'actor_id', object: 'object_id' };

/** Columns the language cannot search (addresses, the tenant) and what to say about them. */
const NOT_SEARCHABLE: Record<string, string> = {
  tenant_id: 'every search is already inside your tenant',
};

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'exists']);
const OPERATORS = ['<=', '>=', '!=', '!~', '=', '~', '<', '>'] as const;
type Operator = (typeof OPERATORS)[number];

/** Characters that end a bare word (a field segment additionally ends at "."). */
const WORD_END = /[\s(),"*=!<>~]/;
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class QueryError extends Error {
  constructor(
    message: string,
    readonly at: number,
    readonly length = 1,
  ) {
    super(message);
  }
}

type Field = { kind: 'text'; column: TextColumn } | { kind: 'ip'; column: IpColumn } | { kind: 'number'; column: NumberColumn } | { kind: 'time'; column: TimeColumn } | { kind: 'context'; path: ContextPath };

interface Value {
  text: string;
  quoted: boolean;
  prefix: boolean;
  at: number;
  end: number;
}

const show = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

class Parser {
  private pos = 0;
  private conditions = 0;
  constructor(private readonly src: string) {}

  parse(): FilterExpr {
    this.skip();
    if (this.pos === this.src.length) return and();
    const expr = this.or(0);
    this.skip();
    if (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === ')') throw new QueryError('This ")" closes no "("', this.pos);
      throw new QueryError(`Expected AND, OR or the end of the query before ${show(this.peekWord() || c)}`, this.pos, Math.max(1, this.peekWord().length));
    }
    return expr;
  }

  private skip(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos]!)) this.pos++;
  }

  /** The bare word at the current position (without consuming it). */
  private peekWord(stopAtDot = false): string {
    let end = this.pos;
    while (end < this.src.length && !WORD_END.test(this.src[end]!) && !(stopAtDot && this.src[end] === '.')) end++;
    return this.src.slice(this.pos, end);
  }

  private keyword(word: string): boolean {
    this.skip();
    const w = this.peekWord(true);
    if (w.toLowerCase() !== word) return false;
    this.pos += w.length;
    return true;
  }

  private or(depth: number): FilterExpr {
    const args = [this.and(depth)];
    while (this.keyword('or')) args.push(this.and(depth));
    return args.length === 1 ? args[0]! : or(...args);
  }

  private and(depth: number): FilterExpr {
    const args = [this.unary(depth)];
    while (this.keyword('and')) args.push(this.unary(depth));
    return args.length === 1 ? args[0]! : and(...args);
  }

  private unary(depth: number): FilterExpr {
    if (depth > MAX_DEPTH) throw new QueryError(`The query nests more than ${MAX_DEPTH} levels deep`, this.pos);
    this.skip();
    const start = this.pos;
    if (this.keyword('not')) {
      this.skip();
      if (this.pos === this.src.length) throw new QueryError('Expected a condition after NOT', start, 3);
      return { op: 'not', arg: this.unary(depth + 1) };
    }
    if (this.src[this.pos] === '(') {
      this.pos++;
      this.skip();
      if (this.src[this.pos] === ')') throw new QueryError('Expected a condition inside the parentheses', this.pos);
      const inner = this.or(depth + 1);
      this.skip();
      if (this.src[this.pos] !== ')') {
        if (this.pos === this.src.length) throw new QueryError('This "(" is never closed: add ")"', start);
        throw new QueryError(`Expected AND, OR or ")" before ${show(this.peekWord() || this.src[this.pos]!)}`, this.pos, Math.max(1, this.peekWord().length));
      }
      this.pos++;
      return inner;
    }
    return this.condition();
  }

  private condition(): FilterExpr {
    if (++this.conditions > MAX_CONDITIONS) throw new QueryError(`A query may hold at most ${MAX_CONDITIONS} conditions`, this.pos);
    const fieldAt = this.pos;
    const field = this.field();
    const fieldText = this.src.slice(fieldAt, this.pos);
    this.skip();
    if (this.keyword('exists')) return this.exists(field, fieldAt, fieldText);
    const inAt = this.pos;
    if (this.keyword('in')) return this.inList(field, fieldText, inAt);
    const opAt = this.pos;
    const op = OPERATORS.find((o) => this.src.startsWith(o, this.pos));
    if (!op) {
      const what = this.pos === this.src.length ? 'the end of the query' : show(this.peekWord() || this.src[this.pos]!);
      throw new QueryError(`Expected a comparison after ${show(fieldText)} (=, !=, ~, <, >, IN or EXISTS), not ${what}`, this.pos, Math.max(1, this.peekWord().length));
    }
    this.pos += op.length;
    const value = this.value(`"${op}"`);
    return this.compare(field, fieldText, op, opAt, value);
  }

  private field(): Field {
    const start = this.pos;
    const segments: { text: string; quoted: boolean; at: number }[] = [];
    for (;;) {
      const at = this.pos;
      if (this.src[this.pos] === '"') {
        segments.push({ text: this.string(), quoted: true, at });
      } else {
        const word = this.peekWord(true);
        if (!word) {
          if (this.pos === this.src.length) throw new QueryError(segments.length ? 'Expected a field name after "."' : 'Expected a condition, e.g. symbol = AAPL', this.pos);
          const c = this.src[this.pos]!;
          if (c === ')') throw new QueryError('Expected a condition before ")"', this.pos);
          throw new QueryError(`Expected a field name, e.g. symbol or actor_id, not ${show(c)}`, this.pos);
        }
        if (!segments.length && KEYWORDS.has(word.toLowerCase())) throw new QueryError(`Expected a condition, not the keyword ${word.toUpperCase()}`, at, word.length);
        this.pos += word.length;
        segments.push({ text: word, quoted: false, at });
      }
      if (this.src[this.pos] !== '.') break;
      this.pos++;
    }
    const [first, ...rest] = segments;
    if (first!.quoted) return { kind: 'context', path: { context: segments.map((s) => s.text) } };
    if (first!.text === 'context') {
      if (!rest.length) throw new QueryError('Name a field inside the context, e.g. context.symbol', start, 7);
      return { kind: 'context', path: { context: rest.map((s) => s.text) } };
    }
    const name = ALIASES[first!.text] ?? first!.text;
    const column = this.column(name);
    if (!column) return { kind: 'context', path: { context: segments.map((s) => s.text) } };
    if (rest.length) throw new QueryError(`${first!.text} has no fields inside it; for a context field write context.${segments.map((s) => s.text).join('.')}`, start, this.pos - start);
    if (NOT_SEARCHABLE[name]) throw new QueryError(`${name}: ${NOT_SEARCHABLE[name]}`, start, first!.text.length);
    return column;
  }

  private column(name: string): Field | null {
    if ((TEXT_COLUMNS as readonly string[]).includes(name)) return { kind: 'text', column: name as TextColumn };
    if ((IP_COLUMNS as readonly string[]).includes(name)) return { kind: 'ip', column: name as IpColumn };
    if ((NUMBER_COLUMNS as readonly string[]).includes(name)) return { kind: 'number', column: name as NumberColumn };
    if ((TIME_COLUMNS as readonly string[]).includes(name)) return { kind: 'time', column: name as TimeColumn };
    if (name in NOT_SEARCHABLE) return { kind: 'text', column: name as TextColumn };
    return null;
  }

  /** A JSON string at the current position. */
  private string(): string {
    const start = this.pos;
    let i = this.pos + 1;
    while (i < this.src.length && this.src[i] !== '"') i += this.src[i] === '\\' ? 2 : 1;
    if (i >= this.src.length) throw new QueryError('This quoted value is never closed: add "', start);
    const raw = this.src.slice(start, i + 1);
    try {
      const text = JSON.parse(raw) as string;
      this.pos = i + 1;
      return text;
    } catch {
      throw new QueryError('This quoted value has a backslash that is not \\" \\\\ \\n \\t or \\uXXXX', start, raw.length);
    }
  }

  private value(after: string): Value {
    this.skip();
    const at = this.pos;
    let text: string;
    let quoted = false;
    if (this.src[this.pos] === '"') {
      text = this.string();
      quoted = true;
    } else {
      text = this.peekWord();
      if (!text) {
        if (this.src[this.pos] === '*') throw new QueryError('"*" goes right after the start of a value (AAPL*); to match any value write EXISTS', this.pos);
        const what = this.pos === this.src.length ? 'the end of the query' : show(this.src[this.pos]!);
        throw new QueryError(`Expected a value after ${after}, not ${what}`, this.pos);
      }
      this.pos += text.length;
    }
    let prefix = false;
    if (this.src[this.pos] === '*') {
      prefix = true;
      this.pos++;
      if (!text) throw new QueryError('Matching values that start with nothing matches every value: write EXISTS instead', at, this.pos - at);
    }
    if (this.pos < this.src.length && !/[\s(),]/.test(this.src[this.pos]!)) {
      if (this.src[this.pos] === '*') throw new QueryError('"*" may appear only once, at the end of a value', this.pos);
      throw new QueryError(`Put quotes around a value that contains ${show(this.src[this.pos]!)}`, at, this.pos - at + 1);
    }
    return { text, quoted, prefix, at, end: this.pos };
  }

  private exists(field: Field, at: number, fieldText: string): FilterExpr {
    if (field.kind === 'context') return { op: 'exists', field: field.path };
    if (field.kind === 'ip') throw new QueryError(`IP addresses compare only for equality: ${fieldText} = …, != … or IN (…)`, at, fieldText.length);
    if (field.kind === 'text' && (NULLABLE_TEXT_COLUMNS as readonly string[]).includes(field.column)) return { op: 'exists', field: field.column as (typeof NULLABLE_TEXT_COLUMNS)[number] };
    throw new QueryError(`Every event has ${fieldText}; EXISTS applies to ${NULLABLE_TEXT_COLUMNS.join(', ')} and context fields`, at, fieldText.length);
  }

  private inList(field: Field, fieldText: string, inAt: number): FilterExpr {
    if (field.kind === 'number' || field.kind === 'time') throw new QueryError(`IN compares text; for ${fieldText} use = with OR, or a range`, inAt, 2);
    this.skip();
    if (this.src[this.pos] !== '(') throw new QueryError('Expected "(" after IN, e.g. IN (AAPL, MSFT)', this.pos);
    const open = this.pos++;
    const values: Value[] = [];
    for (;;) {
      const v = this.value(values.length ? '","' : '"("');
      if (v.prefix) throw new QueryError('"*" does not work inside IN; write symbol = A* OR symbol = B*', v.end - 1);
      values.push(v);
      this.skip();
      if (this.src[this.pos] === ',') {
        this.pos++;
        continue;
      }
      if (this.src[this.pos] === ')') {
        this.pos++;
        break;
      }
      if (this.pos === this.src.length) throw new QueryError('This "(" is never closed: add ")"', open);
      throw new QueryError(`Expected "," or ")" in the IN list, not ${show(this.peekWord() || this.src[this.pos]!)}`, this.pos);
    }
    if (field.kind === 'context') return { op: 'in', field: field.path, values: values.map((v) => jsonValue(v)) };
    if (field.kind === 'ip') return { op: 'in', field: field.column, values: values.map((v) => ipValue(v)) };
    return { op: 'in', field: field.column, values: values.map((v) => this.textValue(field.column, v)) };
  }

  private textValue(column: TextColumn, v: Value): string {
    if (column === 'id' && !UUID.test(v.text)) throw new QueryError(`${show(v.text)} is not an event id (a UUID such as 0190c2d4-…)`, v.at, v.end - v.at);
    return v.text;
  }

  private compare(field: Field, fieldText: string, op: Operator, opAt: number, v: Value): FilterExpr {
    const negate = op === '!=' || op === '!~';
    const ranged = op === '<' || op === '<=' || op === '>' || op === '>=';
    let expr: FilterExpr;
    if (field.kind === 'ip') {
      if (op !== '=' && op !== '!=') throw new QueryError(`IP addresses compare only for equality: ${fieldText} = …, != … or IN (…)`, opAt, op.length);
      if (v.prefix) throw new QueryError('IP addresses compare only for equality: "*" does not apply to them', v.end - 1);
      expr = { op: 'eq', field: field.column, value: ipValue(v) };
    } else if (field.kind === 'time') {
      if (!ranged) throw new QueryError(`Times are compared with <, <=, > or >=, e.g. ${fieldText} >= 2025-01-31`, opAt, op.length);
      if (v.prefix) throw new QueryError('"*" does not apply to times', v.end - 1);
      expr = this.timeRange(field.column, op, v);
    } else if (ranged) {
      const n = this.number(v, fieldText);
      const bound = { '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' }[op] as keyof Bounds<number>;
      if (field.kind === 'text') throw new QueryError(`${fieldText} is text; <, <=, > and >= compare numbers and times`, opAt, op.length);
      expr = field.kind === 'number' ? { op: 'range', field: field.column, [bound]: n } : { op: 'range', field: field.path, [bound]: n };
    } else if (field.kind === 'number') {
      if (op === '~' || op === '!~' || v.prefix) throw new QueryError(`${fieldText} is a number; compare it with =, !=, <, <=, > or >=`, op === '~' || op === '!~' ? opAt : v.end - 1, op.length);
      expr = { op: 'eq', field: field.column, value: this.number(v, fieldText) };
    } else {
      const ignoreCase = op === '~' || op === '!~';
      const target: TextColumn | ContextPath = field.kind === 'text' ? field.column : field.path;
      if (field.kind === 'text' && field.column === 'id' && (ignoreCase || v.prefix)) throw new QueryError('An event id matches only exactly, with = or !=', ignoreCase ? opAt : v.end - 1, ignoreCase ? op.length : 1);
      if (v.prefix) expr = ignoreCase ? { op: 'iprefix', field: target, value: v.text } : { op: 'prefix', field: target, value: v.text };
      else if (ignoreCase) expr = { op: 'ieq', field: target, value: v.text };
      else if (field.kind === 'text') expr = { op: 'eq', field: field.column, value: this.textValue(field.column, v) };
      else expr = { op: 'eq', field: field.path, value: jsonValue(v) };
    }
    return negate ? { op: 'not', arg: expr } : expr;
  }

  private number(v: Value, fieldText: string): number {
    const n = !v.quoted && JSON_NUMBER.test(v.text) ? Number(v.text) : NaN;
    if (!Number.isFinite(n)) throw new QueryError(`${show(v.text)} is not a number; ${fieldText} is compared as a number here`, v.at, v.end - v.at);
    return n === 0 ? 0 : n;
  }

  private timeRange(column: TimeColumn, op: '<' | '<=' | '>' | '>=', v: Value): FilterExpr {
    // A bare date is the whole day: "<= 2025-01-31" and "> 2025-01-31" both split at the end of the 31st.
    const wholeDay = op === '<=' || op === '>';
    const parsed = parseTimeBound(v.text, wholeDay);
    if (!parsed.ok) throw new QueryError(`${show(v.text)} is not a date or time: write 2025-01-31 or 2025-01-31T14:30:00Z`, v.at, v.end - v.at);
    const iso = parsed.value.iso;
    const isDate = /^\d{4}-\d{2}-\d{2}$/.test(v.text);
    if (isDate) return op === '<' || op === '<=' ? { op: 'range', field: column, lt: iso } : { op: 'range', field: column, gte: iso };
    const bound = { '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' }[op];
    return { op: 'range', field: column, [bound]: iso };
  }
}

/** An IP address, in the canonical form every back end compares (ip.ts). */
function ipValue(v: Value): string {
  const ip = canonicalIp(v.text);
  if (ip === null) throw new QueryError(`${show(v.text)} is not an IP address (192.0.2.10, 2001:db8::1)`, v.at, v.end - v.at);
  return ip;
}

/** A context value: JSON number, true, false or null when written bare; otherwise a string. */
function jsonValue(v: Value): JsonScalar {
  if (v.quoted) return v.text;
  if (JSON_NUMBER.test(v.text)) {
    const n = Number(v.text);
    if (Number.isFinite(n)) return n === 0 ? 0 : n;
  }
  if (v.text === 'true') return true;
  if (v.text === 'false') return false;
  if (v.text === 'null') return null;
  return v.text;
}

/** Parses a query into the filter tree, or says in one sentence what is wrong and where. */
export function parseQuery(text: string): QueryResult {
  if (text.length > QUERY_MAX_LENGTH) return { ok: false, message: `A query may be at most ${QUERY_MAX_LENGTH} characters long`, at: QUERY_MAX_LENGTH, length: 1 };
  try {
    return { ok: true, expr: new Parser(text).parse() };
  } catch (err) {
    if (err instanceof QueryError) return { ok: false, message: err.message, at: Math.min(err.at, text.length), length: Math.max(1, err.length) };
    throw err;
  }
}

/** The error as one line: where, then what ("at character 15: …"). */
export function describeQueryError(result: Extract<QueryResult, { ok: false }>): string {
  return `at character ${result.at + 1}: ${result.message}`;
}

// ---- Printing ----

const BARE_SEGMENT = /^[^\s(),"*=!<>~.]+$/;
const BARE_VALUE = /^[^\s(),"*=!<>~]+$/;
const RESERVED_FIELDS = new Set<string>(['context', ...TEXT_COLUMNS, ...IP_COLUMNS, ...NUMBER_COLUMNS, ...TIME_COLUMNS, ...Object.keys(ALIASES), ...Object.keys(NOT_SEARCHABLE)]);

function printSegment(s: string): string {
  return BARE_SEGMENT.test(s) && !KEYWORDS.has(s.toLowerCase()) ? s : JSON.stringify(s);
}

function printField(field: string | ContextPath): string {
  if (!isContextPath(field)) return field;
  const [first] = field.context;
  const segments = field.context.map(printSegment).join('.');
  return first !== undefined && RESERVED_FIELDS.has(first) ? `context.${segments}` : segments;
}

/** A string value bare when it reads back as the same string, quoted otherwise. */
function printString(s: string): string {
  return BARE_VALUE.test(s) && !JSON_NUMBER.test(s) && !['true', 'false', 'null'].includes(s) && !KEYWORDS.has(s.toLowerCase()) ? s : JSON.stringify(s);
}

function printValue(v: JsonScalar): string {
  return typeof v === 'string' ? printString(v) : JSON.stringify(v);
}

const RANGE_SYMBOLS: [keyof Bounds<unknown>, string][] = [
  ['gte', '>='],
  ['gt', '>'],
  ['lte', '<='],
  ['lt', '<'],
];

function printNode(e: FilterExpr, nested: boolean): string {
  switch (e.op) {
    case 'and':
    case 'or': {
      if (!e.args.length) throw new Error(`An empty ${e.op.toUpperCase()} has no query form`);
      if (e.args.length === 1) return printNode(e.args[0]!, nested);
      const text = e.args.map((a) => printNode(a, true)).join(` ${e.op.toUpperCase()} `);
      return nested ? `(${text})` : text;
    }
    case 'not':
      return `NOT ${printNode(e.arg, true)}`;
    case 'eq':
      return `${printField(e.field)} = ${printValue(e.value)}`;
    case 'in':
      return `${printField(e.field)} IN (${(e.values as JsonScalar[]).map(printValue).join(', ')})`;
    case 'prefix':
      return `${printField(e.field)} = ${printString(e.value)}*`;
    case 'ieq':
      return `${printField(e.field)} ~ ${printString(e.value)}`;
    case 'iprefix':
      return `${printField(e.field)} ~ ${printString(e.value)}*`;
    case 'exists':
      return `${printField(e.field)} EXISTS`;
    case 'range': {
      const bounds = RANGE_SYMBOLS.filter(([k]) => (e as Bounds<unknown>)[k] !== undefined).map(([k, symbol]) => `${printField(e.field)} ${symbol} ${String((e as Bounds<unknown>)[k])}`);
      if (!bounds.length) throw new Error('A range without bounds has no query form');
      return bounds.length === 1 ? bounds[0]! : nested ? `(${bounds.join(' AND ')})` : bounds.join(' AND ');
    }
    case 'contains':
      throw new Error('A context containment has no query form');
    case 'sealed':
    case 'tokens':
    case 'clear':
      throw new Error(`A ${e.op} condition has no query form`);
  }
}

/** The query text of a filter tree (AND/OR groups in parentheses where nested); parsing it gives the tree back. */
export function printQuery(expr: FilterExpr): string {
  if (expr.op === 'and' && !expr.args.length) return '';
  return printNode(expr, false);
}

/**
 * The query with one more condition ANDed to it, keeping what the person
 * wrote (parenthesised when it holds an OR at its top level).
 */
export function andCondition(query: string, condition: string): string {
  const current = query.trim();
  if (!current) return condition;
  const parsed = parseQuery(current);
  const needsParens = parsed.ok && parsed.expr.op === 'or';
  return `${needsParens ? `(${current})` : current} AND ${condition}`;
}

/** One condition in query form, e.g. `event_type = CANCEL` (negated: `NOT event_type = CANCEL`). */
export function conditionText(field: TextColumn, value: string, negate = false): string {
  const text = `${field} = ${printString(value)}`;
  return negate ? `NOT ${text}` : text;
}
