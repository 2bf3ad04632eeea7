/** The two database URLs are validated at boot, with a message naming the variable. */
import { describe, expect, it } from 'vitest';
import { parseEnv } from './env.ts';

const runtime = 'postgres://oms_audit_runtime:pw@db.example:5432/oms';
const owner = 'postgres://oms_audit_owner:pw@db.example:5432/oms';

describe('database URLs', () => {
  it('take a runtime URL alone, or with the owner URL', () => {
    expect(parseEnv({ DATABASE_URL: runtime })).toMatchObject({ DATABASE_URL: runtime, OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME: false });
    expect(parseEnv({ DATABASE_URL: runtime, DATABASE_OWNER_URL: owner })).toMatchObject({ DATABASE_URL: runtime, DATABASE_OWNER_URL: owner });
    expect(parseEnv({}).DATABASE_URL).toBeUndefined();
  });

  it('refuse an owner URL without a runtime URL, naming DATABASE_URL', () => {
    expect(() => parseEnv({ DATABASE_OWNER_URL: owner })).toThrow(/DATABASE_URL: required with DATABASE_OWNER_URL/);
  });

  it('refuse the same URL for both, unless privileged running is explicitly allowed', () => {
    expect(() => parseEnv({ DATABASE_URL: owner, DATABASE_OWNER_URL: owner })).toThrow(/DATABASE_OWNER_URL: must differ from DATABASE_URL/);
    expect(parseEnv({ DATABASE_URL: owner, DATABASE_OWNER_URL: owner, OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME: 'true' }).OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME).toBe(true);
  });

  it('refuse what is not a PostgreSQL URL', () => {
    expect(() => parseEnv({ DATABASE_URL: runtime, DATABASE_OWNER_URL: 'mysql://x' })).toThrow(/DATABASE_OWNER_URL: must be a postgres/);
    expect(() => parseEnv({ DATABASE_URL: runtime, OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME: 'maybe' })).toThrow(/OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME: must be true or false/);
  });
});
