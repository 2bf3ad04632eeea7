/** Personal data under per-subject keys: declaring it, and erasing a subject (docs/personal-data.md). */
import { userInfo } from 'node:os';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { declarePersonalData } from '@/server/services/personal/settings.ts';
import { eraseSubject, type ErasureBlock } from '@/server/services/personal/erase.ts';
import type { Command } from '../command.ts';
import { optional, required, tenantArg } from '../args.ts';

const list = (raw: string | undefined) => (raw === undefined ? undefined : raw.split(',').map((s) => s.trim()).filter(Boolean));

export const personalDataCommands: Command[] = [
  {
    name: 'personal-data declare',
    args: '--tenant ID|NAME [--human-actor-types T,T] [--context-paths a,b.c] [--outside-retention]',
    summary: "seal a tenant's personal data under per-subject keys from now on (schema version 3)",
    options: { tenant: { type: 'string' }, 'human-actor-types': { type: 'string' }, 'context-paths': { type: 'string' }, 'outside-retention': { type: 'boolean' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const settings = await declarePersonalData(ctx.sql, tenant.id, `operator:${userInfo().username}`, {
        humanActorTypes: list(optional(ctx, 'human-actor-types')),
        contextPaths: list(optional(ctx, 'context-paths')),
        outsideRetention: ctx.values['outside-retention'] === true,
      });
      return {
        text: `${tenant.name}: personal data of actor types ${settings.humanActorTypes.join(', ')} and context ${settings.contextPaths.join(', ') || '(none)'} is sealed from now on${settings.outsideRetention ? '; outside the retention duty' : ''}`,
        json: settings,
      };
    },
  },
  {
    name: 'erase',
    args: '--tenant ID|NAME --subject ID --reason TEXT [--by NAME]',
    summary: "erase a data subject: destroy its keys (refused under a legal hold or the retention duty)",
    options: { tenant: { type: 'string' }, subject: { type: 'string' }, reason: { type: 'string' }, by: { type: 'string' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const by = optional(ctx, 'by') ?? userInfo().username;
      try {
        const result = await eraseSubject(ctx.sql, {
          tenantId: tenant.id,
          subjectId: required(ctx, 'subject'),
          reason: required(ctx, 'reason'),
          actor: { kind: 'operator', name: by },
          minTotalYears: ctx.env.RETENTION_MIN_TOTAL_YEARS,
        });
        const text = result.erased
          ? `erased subject ${result.subject_ref}: ${result.key_ids.length} key(s) destroyed, ${result.events} event(s) now read as erased; recorded as event ${result.erasure_event_id}`
          : `subject ${result.subject_ref} was erased before (${result.erased_at}, event ${result.erasure_event_id}); nothing changed`;
        return { text, json: result };
      } catch (err) {
        const block = (err as { block?: ErasureBlock }).block;
        if (err instanceof AuditError && block) return { text: `refused: ${err.message}`, json: { refused: true, ...block }, exitCode: 1 };
        throw err;
      }
    },
  },
];
