/**
 * POST /functions/v1/audit-logger {"events":[…]} — up to 1000 events per call,
 * for high-volume writers. The same contract, write path and response as
 * POST /api/v1/audit/events (method "edge_function"); only the limits differ.
 *
 *   credential → tenant (auth.ts) → body ≤ LIMITS.edgeBodyBytes → parseBatch(≤ 1000)
 *   → rate limit → appendEvents (group commit per tenant) → 201 after commit
 */
import { ApiKeyCache } from '../_shared/api-keys.ts';
import { LIMITS, parseBatch } from '../_shared/contract.ts';
import { connect, type Sql } from '../_shared/db.ts';
import { AuditError } from '../_shared/errors.ts';
import { checkDeclaredLength, errorResponse, jsonResponse, readJsonBody } from '../_shared/http.ts';
import { appendEvents, appenderFor, type ObservedClient } from '../_shared/ingest.ts';
import { canonicalIp } from '../_shared/ip.ts';
import { RateLimiter } from '../_shared/rate-limit.ts';
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

export function createAuditLogger(config: AuditLoggerConfig, sql: Sql = connect(config.SUPABASE_DB_URL, { max: config.DB_POOL_MAX, prepare: config.DB_PREPARE, applicationName: 'oms-audit-edge' })): AuditLoggerHandler {
  const auth: Authenticator = {
    sql,
    keys: new ApiKeyCache(config.API_KEY_CACHE_SECONDS * 1000),
    jwtSecret: config.jwtSecret,
    tenants: new TenantCache(60_000),
  };
  const limiter = new RateLimiter(config.RATE_LIMIT_WRITE_EVENTS_PER_SEC);
  const budget = new WriteBudget(functionWriteBudgetBytes(config.MEMORY_LIMIT_MB, config.MAX_INFLIGHT_WRITE_BYTES), config.MAX_INFLIGHT_WRITES);
  appenderFor(sql, { lingerMs: config.GROUP_COMMIT_LINGER_MS });

  function observed(req: Request, info?: ConnectionInfo): ObservedClient {
    let ip: string | null = null;
    if (config.TRUST_PROXY) ip = canonicalIp(req.headers.get('x-forwarded-for')?.split(',')[0]?.trim() ?? '');
    ip ??= canonicalIp(info?.remoteAddr?.hostname ?? '');
    const ua = req.headers.get('user-agent');
    // deno-lint-ignore no-control-regex
    const userAgent = ua && !/[\u0000-\u001f\u007f]/.test(ua) ? ua.slice(0, LIMITS.userAgentLength) : null;
    return { ip, userAgent };
  }

  const handler = async (req: Request, info?: ConnectionInfo): Promise<Response> => {
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
      const writer = await authenticate(req.headers, auth);
      const events = parseBatch(await readJsonBody(admitted.req, LIMITS.edgeBodyBytes), LIMITS.edgeBatch);
      limiter.take(`${writer.tenantId}/${writer.principal}`, events.length);
      const result = await appendEvents(sql, writer, events, observed(req, info), 'edge_function');
      return jsonResponse(result, { status: 201, headers: cors });
    } catch (err) {
      return errorResponse(err, cors);
    } finally {
      admitted?.ticket.release();
    }
  };
  return Object.assign(handler, { sql });
}
