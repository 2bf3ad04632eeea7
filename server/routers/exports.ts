/** exports.*: the manifests of the tenant's recent exports (the files themselves stream from the REST route). */
import { z } from 'zod';
import { router, tenantProcedure } from '@/server/trpc.ts';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { getManifest, listExports, type ExportManifest } from '@/server/services/export.ts';

// Manifests are documented objects (server/services/export.ts); passed through as stored.
const manifestOutput = z.custom<ExportManifest>((v) => typeof v === 'object' && v !== null && 'export_id' in v);

export const exportsRouter = router({
  list: tenantProcedure
    .meta({ permission: 'events:export' })
    .output(z.array(manifestOutput))
    .query(({ ctx }) => listExports(ctx.sql, ctx.claims)),

  manifest: tenantProcedure
    .meta({ permission: 'events:export' })
    .input(z.object({ id: z.uuid() }))
    .output(manifestOutput)
    .query(async ({ ctx, input }) => {
      const manifest = await getManifest(ctx.sql, ctx.claims, input.id);
      if (!manifest) throw new AuditError('not_found', `No export ${input.id}`);
      return manifest;
    }),
});
