import { describe, expect, it } from 'vitest';
import { LIMITS } from './limits.ts';
import { atCapacity, WRITE_COST, WriteBudget, writeCharge } from './write-budget.ts';

const MiB = 1024 * 1024;

describe('writeCharge', () => {
  it('charges a body several times its size, plus a cost per event that fits in it', () => {
    expect(writeCharge(0, 500)).toBe(WRITE_COST.perRequest);
    // 4 MiB of one batch: the body's expansion and 500 events.
    expect(writeCharge(4 * MiB, 500)).toBe(WRITE_COST.perRequest + 4 * MiB * WRITE_COST.perBodyByte + 500 * WRITE_COST.perEvent);
    // A small body holds few events, whatever the endpoint allows.
    expect(writeCharge(800, Number.POSITIVE_INFINITY)).toBe(WRITE_COST.perRequest + 800 * WRITE_COST.perBodyByte + 10 * WRITE_COST.perEvent);
    expect(writeCharge(LIMITS.eventBodyBytes, 1)).toBeLessThan(writeCharge(LIMITS.apiBodyBytes, LIMITS.apiBatch) / 50);
  });
});

describe('WriteBudget', () => {
  it('admits requests while their charges fit, and again once they are released', () => {
    const budget = new WriteBudget(100, 10);
    const a = budget.admit(60)!;
    const b = budget.admit(40)!;
    expect(budget.bytes).toBe(100);
    expect(budget.admit(1)).toBeNull();
    a.release();
    a.release(); // twice changes nothing
    expect(budget.bytes).toBe(40);
    expect(budget.requests).toBe(1);
    expect(budget.admit(60)).not.toBeNull();
    b.release();
  });

  it('admits a request alone even when its charge exceeds the budget, so writes slow down but never stop', () => {
    const budget = new WriteBudget(100, 10);
    const big = budget.admit(500)!;
    expect(big).not.toBeNull();
    expect(budget.admit(1)).toBeNull();
    big.release();
    expect(budget.bytes).toBe(0);
  });

  it('counts requests too', () => {
    const budget = new WriteBudget(1000, 2);
    budget.admit(1);
    budget.admit(1);
    expect(budget.admit(1)).toBeNull();
  });

  it('resizes a charge (a chunked body once its size is known)', () => {
    const budget = new WriteBudget(100, 10);
    const t = budget.admit(90)!;
    expect(budget.admit(20)).toBeNull();
    t.resize(30);
    expect(t.charge).toBe(30);
    expect(budget.admit(20)).not.toBeNull();
    t.release();
    t.resize(80); // after release: nothing
    expect(budget.bytes).toBe(20);
  });

  it('refuses with 503 and Retry-After', () => {
    const err = atCapacity();
    expect(err.status).toBe(503);
    expect(err.retryAfter).toBe(1);
    expect(err.message).toContain('Nothing was stored');
  });
});
