/**
 * The server's own time, read from its Server-Timing answer (W3C Server
 * Timing), which the SDK takes off a request's round trip before reporting it
 * (docs/clock.md, "Network delay"): only oms-audit's metric counts, whatever
 * other metrics a proxy added.
 */
import { describe, expect, it } from 'vitest';
import { serverDurationMs } from './transport.ts';

describe('serverDurationMs', () => {
  it('reads the dur of the oms-audit metric', () => {
    expect(serverDurationMs('oms-audit;dur=3.127')).toBe(3.127);
    expect(serverDurationMs('OMS-Audit ; DUR = 12')).toBe(12);
  });

  it("ignores other metrics, and commas or semicolons inside a quoted description", () => {
    expect(serverDurationMs('cdn-cache;desc="HIT", edge;dur=40, oms-audit;desc="write, then ack;";dur=4.5')).toBe(4.5);
    expect(serverDurationMs('app;dur=9, db;dur=2')).toBeNull();
  });

  it('gives nothing for an answer without one, or with a metric that has no duration', () => {
    expect(serverDurationMs(null)).toBeNull();
    expect(serverDurationMs('')).toBeNull();
    expect(serverDurationMs('oms-audit')).toBeNull();
    expect(serverDurationMs('oms-audit;dur=soon')).toBeNull();
  });
});
