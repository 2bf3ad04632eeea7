/**
 * Administration events in plain words, as the Activity view shows them:
 * "invited bob@example.com as auditor", "revoked API key ci (omsk_1a2b…)".
 * Anything this module does not know is shown by its type and object.
 */
export interface ActivityEvent {
  event_type: string;
  object_type: string;
  object_id: string;
  outcome: string;
  context: Record<string, unknown>;
}

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));
const policy = (v: unknown) => {
  const p = (v ?? {}) as { hot_months?: number; total_years?: number };
  return `${p.hot_months} months hot, ${p.total_years} years in total`;
};

export function activitySentence(e: ActivityEvent): string {
  const c = e.context;
  switch (e.event_type) {
    case 'AUDIT_INVITATION':
      if (c.action === 'created') return `invited ${str(c.email)} as ${str(c.role)}`;
      if (c.action === 'revoked') return `withdrew the invitation of ${str(c.email)}`;
      if (c.action === 'accepted') return `accepted an invitation as ${str(c.role)}`;
      break;
    case 'AUDIT_MEMBERSHIP':
      if (c.action === 'role_changed') return `made ${e.object_id} ${str(c.role)}`;
      if (c.action === 'disabled') return `disabled ${e.object_id}`;
      if (c.action === 'enabled') return `re-enabled ${e.object_id}`;
      if (c.action === 'removed') return `removed ${e.object_id} (was ${str(c.role)})`;
      break;
    case 'AUDIT_API_KEY': {
      const key = `API key ${str(c.name)} (${str(c.prefix)}…)`;
      if (c.action === 'created') return `created ${key} with ${(Array.isArray(c.scopes) ? c.scopes : []).join(', ')}`;
      if (c.action === 'revoked') return `revoked ${key}`;
      break;
    }
    case 'AUDIT_CLOCK_TOLERANCE': {
      const t = (v: unknown) => {
        const x = (v ?? {}) as { tolerance_ms?: number; network_delay_ms?: number };
        return `${x.tolerance_ms} ms tolerance + ${x.network_delay_ms} ms network delay`;
      };
      return `changed the clock tolerance from ${t(c.before)} to ${t(c.after)}`;
    }
    case 'AUDIT_RELATED_KEYS': {
      const keys = (v: unknown) => (Array.isArray(v) ? v.join(', ') : '?');
      return `changed the keys that relate events to an order from ${keys(c.before)} to ${keys(c.after)}`;
    }
    case 'AUDIT_VERIFICATION':
      return c.ok === true
        ? `verified the trail: intact, ${Number(c.events_checked).toLocaleString('en-US')} events checked`
        : `verified the trail: tampering found (${Number(c.problem_count).toLocaleString('en-US')} problems)`;
  }
  if (e.object_type === 'RETENTION_POLICY') return `changed the retention policy from ${policy(c.before)} to ${policy(c.after)}`;
  if (e.object_type === 'LEGAL_HOLD' && e.event_type === 'CREATE') return `placed a legal hold: ${str(c.reason)}`;
  if (e.object_type === 'LEGAL_HOLD' && e.event_type === 'RELEASE') return `released the legal hold “${str(c.placed_reason)}”, because: ${str(c.reason)}`;
  return `${e.event_type} of ${e.object_type} ${e.object_id}`;
}
