import { describe, expect, it } from 'vitest';
import { canonicalIp } from './ip.ts';

describe('canonicalIp', () => {
  it('accepts IPv4 and IPv6 in one canonical form', () => {
    expect(canonicalIp('192.168.1.1')).toBe('192.168.1.1');
    expect(canonicalIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalIp('::ffff:1.2.3.4')).toBe(canonicalIp('::ffff:102:304'));
  });
  it('refuses networks, zones, leading zeros and garbage', () => {
    for (const bad of ['10.0.0.0/8', 'fe80::1%eth0', '192.168.01.1', '256.1.1.1', '1.2.3', 'localhost', '', "1.1.1.1' or 1=1"]) {
      expect(canonicalIp(bad), bad).toBeNull();
    }
  });
});
