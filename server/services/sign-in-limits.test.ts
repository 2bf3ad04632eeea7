/**
 * Password attempts are limited tightly per email (guessing one account) and
 * loosely per client address (one office's NAT address signs many people in,
 * while spraying many accounts from one address is still bounded).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { ADDRESS_ATTEMPTS, EMAIL_ATTEMPTS, limitPasswordAttempts } from './sign-in.ts';

const address = () => `10.${randomBytes(3).join('.')}`;
const email = () => `limit-${randomBytes(6).toString('hex')}@example.com`;

function refused(fn: () => void): AuditError | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err as AuditError;
  }
}

describe('password attempt limits', () => {
  it('refuses the eleventh attempt on one email at once, from any address, saying when to retry', () => {
    const who = email();
    for (let i = 0; i < EMAIL_ATTEMPTS.burst; i++) expect(refused(() => limitPasswordAttempts(who, { ip: address(), userAgent: null }))).toBeNull();
    const err = refused(() => limitPasswordAttempts(` ${who.toUpperCase()} `, { ip: address(), userAgent: null }));
    expect(err).toBeInstanceOf(AuditError);
    expect(err!.code).toBe('rate_limited');
    expect(err!.retryAfter).toBeGreaterThanOrEqual(1);
  });

  it('lets one address sign in many different people, up to the address limit', () => {
    const office = address();
    for (let i = 0; i < ADDRESS_ATTEMPTS.burst; i++) expect(refused(() => limitPasswordAttempts(email(), { ip: office, userAgent: null }))).toBeNull();
    expect(refused(() => limitPasswordAttempts(email(), { ip: office, userAgent: null }))?.code).toBe('rate_limited');
    expect(refused(() => limitPasswordAttempts(email(), { ip: address(), userAgent: null }))).toBeNull();
  });
});
