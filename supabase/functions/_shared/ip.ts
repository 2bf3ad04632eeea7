/**
 * IP addresses in one text form, so that a value is shown, exported and hashed
 * the same whether it comes from a client, from PostgreSQL or from an archive.
 *
 * canonicalIp — the form of schema version 2 and of everything shown: exactly
 * what PostgreSQL's inet output writes for a host address. IPv4: dotted quad.
 * IPv6: RFC 5952 (lower-case hex, leading zeros dropped, the first longest run
 * of two or more zero groups as "::"), with the last 32 bits in dotted notation
 * (RFC 5952 §5) for IPv4-mapped addresses (::ffff:10.0.0.1) and for addresses
 * whose first 96 bits are zero and the next 16 are not (::10.0.0.1).
 *
 * ipV1Form — the form schema version 1 events were hashed with: the same, but
 * never dotted (::ffff:a00:1), as the WHATWG URL parser writes IPv6 hosts.
 * Version 1 events keep verifying only if it stays exactly this.
 */
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The eight 16-bit groups of an IPv6 address, or null. Prefix lengths and zones are refused. */
function ipv6Groups(input: string): number[] | null {
  if (!input.includes(':') || /[^0-9a-fA-F:.]/.test(input)) return null;
  let host: string;
  try {
    host = new URL(`http://[${input}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  // The URL parser writes hex groups with at most one "::".
  const [head, tail] = host.includes('::') ? host.split('::') : [host, null];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === null ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(zeros).fill('0'), ...right].map((g) => parseInt(g, 16));
}

/**
 * PostgreSQL's inet output of an IPv6 host address (src/port/inet_net_ntop.c).
 * Self-contained: verification's hashing threads run its source text.
 */
export function postgresIpv6(words: number[]): string {
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (cur.base === -1) cur = { base: i, len: 1 };
      else cur.len++;
    } else if (cur.base !== -1) {
      if (best.base === -1 || cur.len > best.len) best = cur;
      cur = { base: -1, len: 0 };
    }
  }
  if (cur.base !== -1 && (best.base === -1 || cur.len > best.len)) best = cur;
  if (best.base !== -1 && best.len < 2) best = { base: -1, len: 0 };
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      out += `${words[6]! >> 8}.${words[6]! & 0xff}.${words[7]! >> 8}.${words[7]! & 0xff}`;
      return out;
    }
    out += words[i]!.toString(16);
  }
  if (best.base !== -1 && best.base + best.len === 8) out += ':';
  return out;
}

/** An IPv4 or IPv6 host address in the form PostgreSQL shows, or null if it is not one. */
export function canonicalIp(input: string): string | null {
  if (input.length === 0 || input.length > 64) return null;
  if (IPV4.test(input)) return input;
  const groups = ipv6Groups(input);
  return groups ? postgresIpv6(groups) : null;
}

/** The form schema version 1 hashed: IPv6 always in hex groups (as the WHATWG URL parser writes it). */
export function ipV1Form(input: string): string | null {
  if (input.length === 0 || input.length > 64) return null;
  if (IPV4.test(input)) return input;
  if (!input.includes(':') || /[^0-9a-fA-F:.]/.test(input)) return null;
  try {
    return new URL(`http://[${input}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}
