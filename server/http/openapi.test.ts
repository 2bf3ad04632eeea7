/**
 * The OpenAPI document against the API it describes: valid OpenAPI 3.1 by an
 * independent validator, one operation for every route file (and none
 * without one), the SDK's version tied to the API's, and real answers of the
 * running server matching the documented schemas.
 */
import { validate, compileErrors } from '@readme/openapi-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { baseUrl, event, newTenant, testSql, type TestTenant } from '@/test/fixtures.ts';
import { API_VERSION, OPENAPI_PATH, openApiDocument } from './openapi.ts';
import { SINGLE_EVENT_PATH } from './single-event.ts';

const root = path.resolve(import.meta.dirname, '../..');
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

type Operation = {
  parameters?: { name: string; in: string; schema?: { enum?: string[]; default?: unknown; anyOf?: unknown[] } }[];
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
};
type Document = { openapi: string; info: { version: string }; paths: Record<string, Record<string, Operation>> };

let served: Document;
beforeAll(async () => {
  const res = await fetch(`${baseUrl()}${OPENAPI_PATH}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  served = (await res.json()) as Document;
});

/** Every route file under app/api/v1 as "METHOD /path", from the files and their exported handlers. */
async function routesOnDisk(): Promise<string[]> {
  const dir = path.join(root, 'app', 'api', 'v1');
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith(`${path.sep}route.ts`) || f === 'route.ts');
  const routes: string[] = [];
  for (const file of files) {
    const urlPath = `/api/v1/${path.dirname(file).split(path.sep).join('/')}`.replace(/\[(\w+)\]/g, '{$1}');
    const handlers = await import(path.join(dir, file));
    for (const method of METHODS) if (typeof handlers[method] === 'function') routes.push(`${method} ${urlPath}`);
  }
  // The Node server answers the single-event endpoint itself, ahead of the App Router.
  routes.push(`POST ${SINGLE_EVENT_PATH}`);
  return routes.sort();
}

describe('the OpenAPI document', () => {
  it('is what the server serves, and valid OpenAPI 3.1 for an independent validator', async () => {
    expect(served).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    expect(served.openapi).toMatch(/^3\.1\./);
    const result = await validate(structuredClone(served) as never);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
  });

  it('describes exactly the routes there are', async () => {
    const documented = Object.entries(served.paths)
      .flatMap(([urlPath, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${urlPath}`))
      .sort();
    expect(documented).toEqual(await routesOnDisk());
  });

  it('carries the API version the SDK package is tied to', async () => {
    const sdk = JSON.parse(await readFile(path.join(root, 'sdk', 'package.json'), 'utf8')) as { version: string };
    expect(served.info.version).toBe(API_VERSION);
    const [major, minor] = sdk.version.split('.');
    expect(`${major}.${minor}`).toBe(API_VERSION);
    expect(Object.keys(served.paths).filter((p) => !p.startsWith(`/api/v${major}/`))).toEqual([]);
  });
});

describe('real answers of the server', () => {
  let t: TestTenant;
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  beforeAll(async () => {
    t = await newTenant('openapi');
    ajv.addSchema(served as object, 'openapi');
  });

  /** Fetches and checks the answer against the documented response of that operation, status and media type. */
  async function conforms(method: string, template: string, url: string, init: { key?: string; body?: unknown } = {}) {
    const res = await fetch(`${baseUrl()}${url}`, {
      method,
      headers: { ...(init.key ? { authorization: `Bearer ${init.key}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) },
      body: init.body ? JSON.stringify(init.body) : undefined,
    });
    const operation = served.paths[template]?.[method.toLowerCase()];
    expect(operation, `${method} ${template} is documented`).toBeDefined();
    const response = operation!.responses[String(res.status)];
    expect(response, `${method} ${url} answered ${res.status}, which is documented`).toBeDefined();
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    expect(Object.keys(response!.content ?? {}), `${method} ${url}: ${mediaType} is documented for ${res.status}`).toContain(mediaType);
    if (mediaType !== 'application/json') return { status: res.status, headers: res.headers, body: await res.text() };
    const body = await res.json();
    const pointer = ['paths', template, method.toLowerCase(), 'responses', String(res.status), 'content', mediaType, 'schema']
      .map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1'))
      .join('/');
    const check = ajv.getSchema(`openapi#/${pointer}`)!;
    expect(check(body), `${method} ${url} → ${res.status}: ${JSON.stringify(check.errors)}\n${JSON.stringify(body).slice(0, 500)}`).toBe(true);
    return { status: res.status, headers: res.headers, body };
  }

  it('writing, reading and proving events', async () => {
    const written = await conforms('POST', '/api/v1/audit/events', '/api/v1/audit/events', { key: t.key, body: { events: [event(), event({ context: { symbol: 'AAPL' } })] } });
    expect(written.status).toBe(201);
    const id = (written.body as { ids: string[] }).ids[0]!;
    expect((await conforms('POST', SINGLE_EVENT_PATH, SINGLE_EVENT_PATH, { key: t.key, body: event() })).status).toBe(201);
    expect((await conforms('GET', '/api/v1/audit/events', '/api/v1/audit/events?limit=2&order=asc&context.symbol=AAPL', { key: t.readKey })).status).toBe(200);
    expect((await conforms('GET', '/api/v1/audit/events/{id}', `/api/v1/audit/events/${id}`, { key: t.readKey })).status).toBe(200);
    expect((await conforms('GET', '/api/v1/audit/events/{id}/proof', `/api/v1/audit/events/${id}/proof`, { key: t.readKey })).status).toBe(200);
    expect((await conforms('GET', '/api/v1/audit/checkpoints', '/api/v1/audit/checkpoints?limit=10', { key: t.readKey })).status).toBe(200);
    expect((await conforms('GET', '/api/v1/retention/report', '/api/v1/retention/report', { key: t.readKey })).status).toBe(200);
  });

  it('errors, in the one documented shape', async () => {
    const invalid = await conforms('POST', '/api/v1/audit/events', '/api/v1/audit/events', { key: t.key, body: { events: [event({ ip_address: 'nope' })] } });
    expect(invalid.status).toBe(400);
    expect((await conforms('GET', '/api/v1/audit/events', '/api/v1/audit/events')).status).toBe(401);
    expect((await conforms('GET', '/api/v1/audit/events', '/api/v1/audit/events?limit=0', { key: t.readKey })).status).toBe(400);
    expect((await conforms('GET', '/api/v1/audit/events/{id}', `/api/v1/audit/events/${crypto.randomUUID()}`, { key: t.readKey })).status).toBe(404);
    expect((await conforms('POST', SINGLE_EVENT_PATH, SINGLE_EVENT_PATH, { key: t.readKey, body: event() })).status).toBe(403);
  });

  it('exports in every documented format and form, with a documented manifest', async () => {
    await conforms('POST', '/api/v1/audit/events', '/api/v1/audit/events', { key: t.key, body: { events: [event(), event()] } });
    const exportOperation = served.paths['/api/v1/audit/events/export']!.get!;
    const formats = exportOperation.parameters!.find((p) => p.name === 'format')!.schema!.enum!;
    expect(formats.length).toBeGreaterThan(0);
    for (const format of formats) {
      for (const bundle of ['false', 'true']) {
        const answer = await conforms('GET', '/api/v1/audit/events/export', `/api/v1/audit/events/export?format=${format}&bundle=${bundle}&order=asc`, { key: t.readKey });
        if (format === 'parquet' && bundle === 'true') {
          // The standalone verifier reads CSV and JSON Lines only: a Parquet bundle is refused, naming the field.
          expect(answer.status).toBe(400);
          expect((answer.body as { error: { issues: { field: string }[] } }).error.issues[0]!.field).toBe('bundle');
          continue;
        }
        expect(answer.status, `format=${format} bundle=${bundle}`).toBe(200);
        const manifestUrl = new URL(answer.headers.get('x-audit-manifest')!);
        await expect
          .poll(async () => ((await conforms('GET', '/api/v1/audit/exports/{id}/manifest', manifestUrl.pathname, { key: t.readKey })).body as { status: string }).status, { timeout: 10_000 })
          .toBe('complete');
      }
    }
    // A format the document does not list is refused.
    expect((await conforms('GET', '/api/v1/audit/events/export', '/api/v1/audit/events/export?format=xml', { key: t.readKey })).status).toBe(400);
    const [rows] = await testSql()`select count(*)::int as n from public.audit_events where tenant_id = ${t.id}`;
    expect(rows!.n).toBeGreaterThan(0);
  });
});
