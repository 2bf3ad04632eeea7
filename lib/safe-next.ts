/**
 * Where the console may send someone after sign-in: a path on this site, never
 * another origin. Browsers read `//host`, `/\host` (and `\` anywhere as `/`),
 * strip tabs and newlines, and some layers decode `%2F`/`%5C` before
 * resolving, so anything that could turn into another origin is refused and
 * the person lands on `/` instead.
 */
const FALLBACK = '/';
const BASE = 'http://console.invalid';

function fullyDecoded(value: string): string | null {
  let current = value;
  for (let i = 0; i < 5; i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return null;
    }
    if (next === current) return current;
    current = next;
  }
  return null;
}

export function safeNextPath(next: string | null | undefined): string {
  if (typeof next !== 'string' || next.length === 0 || next.length > 2000) return FALLBACK;
  const decoded = fullyDecoded(next);
  if (decoded === null) return FALLBACK;
  for (const form of [next, decoded]) {
    if (!form.startsWith('/') || form.startsWith('//')) return FALLBACK;
    // A backslash reads as a slash; control characters (tab, CR, LF…) are dropped by URL parsers.
    if (/[\\\u0000-\u001f\u007f]/.test(form)) return FALLBACK;
  }
  let url: URL;
  try {
    url = new URL(next, BASE);
  } catch {
    return FALLBACK;
  }
  if (url.origin !== BASE) return FALLBACK;
  return `${url.pathname}${url.search}${url.hash}`;
}

/** Request header the proxy sets to the path (and query) a console page was asked for. */
export const REQUESTED_PATH_HEADER = 'x-oms-requested-path';

/** The sign-in page, with the page to come back to when it is not the search page. */
export function signInPathFor(requested: string | null | undefined): string {
  const next = safeNextPath(requested);
  return next === FALLBACK ? '/sign-in' : `/sign-in?next=${encodeURIComponent(next)}`;
}
