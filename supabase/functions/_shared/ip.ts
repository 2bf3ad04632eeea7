/**
 * IP addresses in one canonical text form, so that a value hashes the same
 * whether it comes from a client, from PostgreSQL's inet output or from an export.
 * IPv4: dotted quad. IPv6: RFC 5952 (lower-case, longest zero run compressed),
 * as the WHATWG URL parser serializes it.
 */
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function canonicalIp(input: string): string | null {
  if (input.length === 0 || input.length > 64) return null;
  if (IPV4.test(input)) return input;
  if (!input.includes(':') || /[^0-9a-fA-F:.]/.test(input)) return null;
  try {
    const host = new URL(`http://[${input}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return null;
  }
}
