/**
 * The search bar's free JSON-field filter: `symbol = AAPL`,
 * `after.status = FILLED and quantity = 100`. Each condition becomes part of
 * a containment object for `context` ({"symbol":"AAPL","after":{"status":"FILLED"}}).
 * Values that read as JSON literals (numbers, true/false/null, "quoted") keep their type.
 */
export type FieldFilterResult = { ok: true; value: Record<string, unknown> } | { ok: false; message: string };

function literal(raw: string): unknown {
  const v = raw.trim();
  if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(v) || v === 'true' || v === 'false' || v === 'null' || /^".*"$/.test(v)) {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v;
}

export function parseFieldFilter(text: string): FieldFilterResult {
  const value: Record<string, unknown> = {};
  const conditions = text.split(/\s+and\s+|\s*;\s*|\n/i).map((c) => c.trim()).filter(Boolean);
  if (!conditions.length) return { ok: false, message: 'Write a condition like symbol = AAPL' };
  for (const condition of conditions) {
    const eq = condition.indexOf('=');
    if (eq <= 0) return { ok: false, message: `"${condition}" is not a condition like symbol = AAPL` };
    const path = condition.slice(0, eq).trim().split('.');
    if (path.some((p) => !p)) return { ok: false, message: `"${condition.slice(0, eq).trim()}" is not a field name` };
    let target = value;
    for (const key of path.slice(0, -1)) {
      const next = target[key];
      if (next === undefined) target = (target[key] = {}) as Record<string, unknown>;
      else if (typeof next === 'object' && next !== null && !Array.isArray(next)) target = next as Record<string, unknown>;
      else return { ok: false, message: `"${path.join('.')}" conflicts with another condition` };
    }
    target[path[path.length - 1]!] = literal(condition.slice(eq + 1));
  }
  return { ok: true, value };
}
