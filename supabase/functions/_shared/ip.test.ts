import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { testSql } from '@/test/fixtures.ts';
import { canonicalIp, ipV1Form } from './ip.ts';

describe('canonicalIp', () => {
  it('writes IPv4 and IPv6 as PostgreSQL shows them, IPv4-mapped addresses in mixed notation', () => {
    expect(canonicalIp('192.168.1.1')).toBe('192.168.1.1');
    expect(canonicalIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('::ffff:10.0.0.1');
    expect(canonicalIp('::ffff:a00:1')).toBe('::ffff:10.0.0.1');
    expect(canonicalIp('0:0:0:0:0:0:a01:203')).toBe('::10.1.2.3');
    expect(canonicalIp('::1')).toBe('::1');
    expect(canonicalIp('::')).toBe('::');
    expect(canonicalIp('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3');
    expect(canonicalIp('1:0:0:2:2:0:0:3')).toBe('1::2:2:0:0:3');
    expect(canonicalIp('1:0:1:1:1:1:1:1')).toBe('1:0:1:1:1:1:1:1');
  });

  it('refuses networks, zones, leading zeros and garbage', () => {
    for (const bad of ['10.0.0.0/8', 'fe80::1%eth0', '192.168.01.1', '256.1.1.1', '1.2.3', 'localhost', '', "1.1.1.1' or 1=1", '::ffff:1.2.3.4/96']) {
      expect(canonicalIp(bad), bad).toBeNull();
      expect(ipV1Form(bad), bad).toBeNull();
    }
  });

  it('keeps the form schema version 1 hashed: IPv6 in hex groups only', () => {
    expect(ipV1Form('::ffff:10.0.0.1')).toBe('::ffff:a00:1');
    expect(ipV1Form('::10.1.2.3')).toBe('::a01:203');
    expect(ipV1Form('2001:DB8::1')).toBe('2001:db8::1');
    expect(ipV1Form('10.0.0.1')).toBe('10.0.0.1');
  });


  it("is exactly PostgreSQL's output of an inet host address, for any IPv6 address", async () => {
    // Groups biased to zero and 0xffff so that zero runs, mapped and compatible addresses come up often.
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
    const addresses = fc.sample(fc.array(group, { minLength: 8, maxLength: 8 }), 2000).map((g) => g.map((x) => x.toString(16)).join(':'));
    addresses.push('::ffff:0.0.0.0', '::ffff:1.2.3.4', '::1.2.3.4', '::0.0.0.1', '::ffff', '::ffff:0:0', 'ffff::', '0:0:0:0:0:ffff:0:1');
    const rows = await testSql()`select a, host(a::inet) as pg from unnest(${addresses}::text[]) as a`;
    for (const row of rows) expect(canonicalIp(row.a as string), row.a as string).toBe(row.pg);
  });
});
