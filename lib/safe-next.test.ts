/** The sign-in redirect accepts a path on this site and nothing that a browser could read as another origin. */
import { describe, expect, it } from 'vitest';
import { safeNextPath, signInPathFor } from './safe-next.ts';

describe('safeNextPath', () => {
  it('keeps same-origin paths with their query and fragment', () => {
    expect(safeNextPath('/')).toBe('/');
    expect(safeNextPath('/events/3f1c?x=1')).toBe('/events/3f1c?x=1');
    expect(safeNextPath('/?object_id=ORD-1&event_type=CREATE')).toBe('/?object_id=ORD-1&event_type=CREATE');
    expect(safeNextPath('/?object_id=A%2FB')).toBe('/?object_id=A%2FB');
    expect(safeNextPath('/invitation#omsi_abc')).toBe('/invitation#omsi_abc');
  });

  it.each([
    ['protocol-relative', '//evil.example'],
    ['protocol-relative with path', '//evil.example/path'],
    ['slash-backslash', '/\\evil.example'],
    ['backslash-slash', '\\/evil.example'],
    ['backslash later', '/a\\..\\\\evil.example'],
    ['encoded backslash', '/%5Cevil.example'],
    ['encoded backslash, lower case', '/%5cevil.example'],
    ['encoded slash', '/%2Fevil.example'],
    ['encoded slash twice', '/%2F%2Fevil.example'],
    ['double-encoded backslash', '/%255Cevil.example'],
    ['tab inside', '/\t/evil.example'],
    ['newline inside', '/\n/evil.example'],
    ['encoded tab', '/%09/evil.example'],
    ['NUL', '/\u0000/evil.example'],
    ['DEL', '/\u007f/evil.example'],
    ['absolute https', 'https://evil.example/'],
    ['absolute with our path', 'http://evil.example/events'],
    ['javascript:', 'javascript:alert(1)'],
    ['data:', 'data:text/html,hi'],
    ['relative without slash', 'evil.example'],
    ['triple slash', '///evil.example'],
    ['malformed percent', '/%E0%A4%A'],
    ['empty', ''],
  ])('refuses %s', (_name, next) => {
    expect(safeNextPath(next)).toBe('/');
  });

  it('refuses what is not a string or is unreasonably long', () => {
    expect(safeNextPath(null)).toBe('/');
    expect(safeNextPath(undefined)).toBe('/');
    expect(safeNextPath(`/${'a'.repeat(2001)}`)).toBe('/');
  });
});

describe('signInPathFor', () => {
  it('keeps the page asked for, so sign-in returns to it', () => {
    expect(signInPathFor('/objects/ORDER/ORD-100625?at=2026-11-02T15%3A32%3A05Z')).toBe(`/sign-in?next=${encodeURIComponent('/objects/ORDER/ORD-100625?at=2026-11-02T15%3A32%3A05Z')}`);
  });
  it('sends the search page and anything off-site to plain /sign-in', () => {
    expect(signInPathFor('/')).toBe('/sign-in');
    expect(signInPathFor(null)).toBe('/sign-in');
    expect(signInPathFor('//evil.example')).toBe('/sign-in');
  });
});
