/** GET /api/v1/openapi.json — the OpenAPI 3.1 document of the REST API (server/http/openapi.ts); public. */
import { json, route } from '@/server/http/rest.ts';
import { openApiDocument } from '@/server/http/openapi.ts';

export const dynamic = 'force-dynamic';

export const GET = route(async () => json(openApiDocument(), { headers: { 'access-control-allow-origin': '*' } }));
