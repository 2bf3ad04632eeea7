/**
 * oms-audit monitor: the independent monitor (sdk/monitor.ts) as a command a
 * customer or regulator runs from cron on their own machine. No database:
 * only the server's HTTP API, an API key, a pinned operator key and a state file.
 * Exit 0: the trail only grew (or is unchanged); 1: fork, rollback or an invalid
 * checkpoint, named; 2: usage error or the server could not be asked.
 */
import { readFileSync } from 'node:fs';
import { monitorWithStateFile } from '@/sdk/monitor.ts';
import type { Command, OfflineContext } from '../command.ts';
import { UsageError } from '../usage-error.ts';

function option(ctx: OfflineContext, name: string): string | undefined {
  const value = ctx.values[name];
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

const list = (value: string | undefined) => (value ? value.split(',').map((v) => v.trim()).filter(Boolean) : []);

export const monitorCommands: Command[] = [
  {
    name: 'monitor',
    args: '--url URL --key API_KEY --state FILE (--public-key FILE[,FILE] | --fingerprint SHA256[,SHA256])',
    summary: "check that the server's signed checkpoints only grow from the last one accepted (no database needed)",
    options: { url: { type: 'string' }, key: { type: 'string' }, state: { type: 'string' }, fingerprint: { type: 'string' }, 'public-key': { type: 'string' } },
    async runOffline(ctx) {
      const url = option(ctx, 'url');
      const apiKey = option(ctx, 'key') ?? process.env.OMS_AUDIT_API_KEY;
      const stateFile = option(ctx, 'state');
      if (!url || !apiKey || !stateFile) throw new UsageError('monitor needs --url, --key (or OMS_AUDIT_API_KEY) and --state');
      const publicKeysPem = list(option(ctx, 'public-key')).map((file) => readFileSync(file, 'utf8'));
      let result;
      try {
        result = await monitorWithStateFile({ url, apiKey, stateFile, publicKeysPem, fingerprints: list(option(ctx, 'fingerprint')) });
      } catch (err) {
        const message = (err as Error).message;
        if (/no key is pinned|cannot be pinned|is not an oms-audit monitor state|remembers/.test(message)) throw new UsageError(message);
        return { text: `oms-audit monitor: could not check ${url}: ${message}`, json: { ok: false, outcome: 'error', message }, exitCode: 2 };
      }
      const { outcome, ok, number, accepted, message } = result;
      return { text: `${ok ? 'OK' : 'ALERT'} ${message}`, json: { ok, outcome, checkpoint: number, accepted, message }, exitCode: ok ? 0 : 1 };
    },
  },
];
