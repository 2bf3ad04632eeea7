import { describe, expect, it } from 'vitest';
import { activitySentence } from './activity-sentence.ts';

const e = (event_type: string, object_type: string, context: Record<string, unknown>, object_id = 'x') => ({ event_type, object_type, object_id, outcome: 'success', context });

describe('administration in plain words', () => {
  it('says what was done to whom', () => {
    expect(activitySentence(e('AUDIT_INVITATION', 'INVITATION', { action: 'created', email: 'bob@example.com', role: 'auditor' }))).toBe('invited bob@example.com as auditor');
    expect(activitySentence(e('AUDIT_MEMBERSHIP', 'CONSOLE_USER', { action: 'role_changed', role: 'admin' }, 'bob@example.com'))).toBe('made bob@example.com admin');
    expect(activitySentence(e('AUDIT_API_KEY', 'API_KEY', { action: 'revoked', name: 'ci', prefix: 'omsk_1a2b' }))).toBe('revoked API key ci (omsk_1a2b…)');
    expect(activitySentence(e('AUDIT_VERIFICATION', 'AUDIT_TRAIL', { ok: false, problem_count: 2 }))).toBe('verified the trail: tampering found (2 problems)');
    expect(activitySentence(e('AUDIT_CLOCK_TOLERANCE', 'CLOCK_TOLERANCE', { before: { tolerance_ms: 50, network_delay_ms: 0 }, after: { tolerance_ms: 250, network_delay_ms: 100 } }))).toBe('changed the clock tolerance from 50 ms tolerance + 0 ms network delay to 250 ms tolerance + 100 ms network delay');
    expect(activitySentence(e('AUDIT_RELATED_KEYS', 'AUDIT_RELATED_KEYS', { before: ['order_id', 'parent_order_id'], after: ['order_ref'] }))).toBe('changed the keys that relate events to an order from order_id, parent_order_id to order_ref');
    expect(activitySentence(e('RELEASE', 'LEGAL_HOLD', { placed_reason: 'SEC 17', reason: 'inquiry closed' }))).toBe('released the legal hold “SEC 17”, because: inquiry closed');
  });
  it('falls back to type and object for what it does not know', () => {
    expect(activitySentence(e('AUDIT_NEW_THING', 'WIDGET', {}, 'w-1'))).toBe('AUDIT_NEW_THING of WIDGET w-1');
  });
});
