/** GET /api/v1/audit/exports/:id/manifest — an export's manifest (JSON), for whoever may export in that tenant. */
import { uuid } from '@/supabase/functions/_shared/contract.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { claimsOf } from '@/server/auth/caller.ts';
import { db } from '@/server/db/client.ts';
import { authorize, chargeRate, json, route } from '@/server/http/rest.ts';
import { getManifest } from '@/server/services/export.ts';

export const dynamic = 'force-dynamic';

export const GET = route(async (req, { params }: { params: Promise<{ id: string }> }) => {
  const caller = await authorize(req, 'events:export');
  chargeRate(caller, 'read');
  const parsed = uuid.safeParse((await params).id);
  if (!parsed.success) throw new AuditError('invalid_request', 'The export id must be a UUID', [{ field: 'id', message: 'must be a UUID' }]);
  const manifest = await getManifest(db(), claimsOf(caller), parsed.data);
  if (!manifest) throw new AuditError('not_found', `No export ${parsed.data}`);
  const download = new URL(req.url).searchParams.get('download');
  return json(manifest, download ? { headers: { 'content-disposition': `attachment; filename="${manifest.file_name}.manifest.json"` } } : {});
});
