/**
 * POST /functions/v1/audit-logger {"events":[…]} — up to 1000 events per call,
 * for high-volume writers. The same contract, write path and response as
 * POST /api/v1/audit/events (method "edge_function"); only the limits differ.
 *
 *   credential → tenant (auth.ts) → body ≤ LIMITS.edgeBodyBytes → parseBatch(≤ 1000)
 *   → rate limit → appendEvents (group commit per tenant) → 201 after commit
 *
 * Before its first write the function checks that its database role is the
 * runtime role, which cannot change the trail (_shared/runtime-role.ts); a
 * privileged one gets every write refused with 503 until it is fixed.
 */
import { ApiKeyCache } from '../_shared/api-keys.ts';
import { LIMITS, parseBatch } from '../_shared/contract.ts';
import { observedClient, writerOf } from '../_shared/credentials.ts';
import { connect, type Sql } from '../_shared/db.ts';
import { AuditError } from '../_shared/errors.ts';
import { checkDeclaredLength, errorResponse, jsonResponse, readJsonBody } from '../_shared/http.ts';
import { appendEvents, appenderFor } from '../_shared/ingest.ts';
import { RateLimits } from '../_shared/rate-limit.ts';
import { checkRuntimeRole, runtimeRoleRefusal } from '../_shared/runtime-role.ts';
import { SERVER_TIMING_HEADER, serverTiming } from '../_shared/clock.ts';
import { WriteBudget } from '../_shared/write-budget.ts';
import { admitWrite, functionWriteBudgetBytes, type Admitted } from './admission.ts';
import { authenticate, TenantCache, type Authenticator } from './auth.ts';
import type { AuditLoggerConfig } from './config.ts';
import { corsHeaders, preflightHeaders } from './cors.ts';

/** What Deno.serve tells a handler about the connection. */
export interface ConnectionInfo {
  remoteAddr?: { hostname?: string };
}

export type AuditLoggerHandler = ((req: Request, info?: ConnectionInfo) => Promise<Response>) & { sql: Sql };

// Supabase routes /functions/v1/audit-logger to the function as /audit-logger; npm start serves the full path.
const PATH = /(^|\/)audit-logger\/?$/;

export function createAuditLogger(config: AuditLoggerConfig, sql: Sql = connect(config.databaseUrl, { max: config.DB_POOL_MAX, prepare: config.DB_PREPARE, applicationName: 'oms-audit-edge' })): AuditLoggerHandler {
  const auth: Authenticator = {
    sql,
    keys: new ApiKeyCache(config.API_KEY_CACHE_SECONDS * 1000),
    jwtSecret: config.jwtSecret,
    tenants: new TenantCache(60_000),
  };
  // The function only writes: its read limit is never charged.
  const limits = new RateLimits({ writeEventsPerSec: config.RATE_LIMIT_WRITE_EVENTS_PER_SEC, readRequestsPerSec: 1 });
  const budget = new WriteBudget(functionWriteBudgetBytes(config.MEMORY_LIMIT_MB, config.MAX_INFLIGHT_WRITE_BYTES), config.MAX_INFLIGHT_WRITES);
  appenderFor(sql, { lingerMs: config.GROUP_COMMIT_LINGER_MS });

  // Checked once (again after a failure to reach the database); a refusal is logged once.
  let roleChecked: Promise<void> | undefined;
  const roleFitToWrite = (): Promise<void> => {
    roleChecked ??= checkRuntimeRole(sql).then(
      (check) => {
        if (!check.problems.length) return;
        const message = runtimeRoleRefusal(config.databaseUrlVariable, check, 'OMS_AUDIT_DB_URL');
        if (config.OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME) return console.warn(`audit-logger: writing anyway (OMS_AUDIT_ALLOW_PRIVILEGED_RUNTIME=true): ${message}`);
        console.error(`audit-logger: ${message}`);
        throw new AuditError('unavailable', `The function is misconfigured: its database role may change the audit trail (${config.databaseUrlVariable}); see the function's log`, [], 60);
      },
      (err) => {
        roleChecked = undefined;
        throw err;
      },
    );
    return roleChecked;
  };

  const handler = async (req: Request, info?: ConnectionInfo): Promise<Response> => {
    const started = performance.now();
    const res = await answer(req, info);
    // How long the function worked on it, for the client to take off its round trip (docs/clock.md).
    res.headers.set(SERVER_TIMING_HEADER, serverTiming(started));
    return res;
  };
  const answer = async (req: Request, info?: ConnectionInfo): Promise<Response> => {
    const origin = req.headers.get('origin');
    const cors = corsHeaders(origin, config.CORS_ALLOWED_ORIGINS);
    let admitted: Admitted | undefined;
    try {
      if (!PATH.test(new URL(req.url).pathname)) throw new AuditError('not_found', 'No such function; POST to /functions/v1/audit-logger');
      if (req.method === 'OPTIONS') return new Response(null, { status: 204, headers: preflightHeaders(origin, config.CORS_ALLOWED_ORIGINS) });
      if (req.method !== 'POST') throw new AuditError('method_not_allowed', 'Send events with POST');
      checkDeclaredLength(req, LIMITS.edgeBodyBytes);
      // Charged until answered; refused (503) before the body is read when the budget cannot take it.
      admitted = admitWrite(budget, req);
      const caller = await authenticate(req.headers, auth);
      const events = parseBatch(await readJsonBody(admitted.req, LIMITS.edgeBodyBytes), LIMITS.edgeBatch);
      limits.charge(caller, 'write', events.length);
      await roleFitToWrite();
      const observed = observedClient(req.headers, { trustProxy: config.TRUST_PROXY, socketIp: info?.remoteAddr?.hostname });
      const result = await appendEvents(sql, writerOf(caller), events, observed, 'edge_function');
      return jsonResponse(result, { status: 201, headers: cors });
    } catch (err) {
      return errorResponse(err, cors);
    } finally {
      admitted?.ticket.release();
    }
  };
  return Object.assign(handler, { sql });
}
