/**
 * oms-audit stream add|list|pause|resume|remove|rotate-secret: a tenant's log
 * streams from the command line, through the same service as the console.
 * Credentials are read from a file (or standard input), never from the
 * command line, where other users of the machine could see them.
 */
import { readFileSync } from 'node:fs';
import { AuditError } from '@/supabase/functions/_shared/errors.ts';
import { NO_OBSERVED_CLIENT } from '@/server/services/ingest.ts';
import { changeStreamSecret, createStream, listStreams, pauseStream, removeStream, resumeStream, type StreamActor, type StreamInfo } from '@/server/services/streams/streams.ts';
import type { Command, CommandContext } from '../command.ts';
import { optional, positiveInt, required, tenantArg, UUID } from '../args.ts';
import { UsageError } from '../usage-error.ts';

const CLI_ACTOR: StreamActor = { actorType: 'SERVICE', actorId: 'oms-audit-cli', principal: 'cli', writer: { kind: 'operator', name: 'cli' }, source: 'oms-audit-cli', method: 'cli', observed: NO_OBSERVED_CLIENT };

/** The credential in --secret-file (`-`: standard input), trimmed. */
function secretFromFile(ctx: CommandContext): string | undefined {
  const file = optional(ctx, 'secret-file');
  if (!file) return undefined;
  const text = readFileSync(file === '-' ? 0 : file, 'utf8').trim();
  if (!text) throw new UsageError(`--secret-file ${file} is empty`);
  return text;
}

function streamId(ctx: CommandContext): string {
  const id = optional(ctx, 'id') ?? ctx.positionals[2]?.trim();
  if (!id) throw new UsageError('--id is required');
  if (!UUID.test(id)) throw new AuditError('not_found', `No stream ${id}`);
  return id.toLowerCase();
}

/** The tenant owning a stream (the CLI acts for the operator: any tenant's stream, named by id). */
async function tenantOfStream(ctx: CommandContext, id: string): Promise<string> {
  const [row] = await ctx.sql`select tenant_id from oms_audit.log_streams where id = ${id}`;
  if (!row) throw new AuditError('not_found', `No stream ${id}`);
  return row.tenant_id as string;
}

function start(ctx: CommandContext): 'now' | 'beginning' | number {
  const value = optional(ctx, 'start') ?? 'now';
  if (value === 'now' || value === 'beginning') return value;
  const seq = Number(value);
  if (!Number.isInteger(seq) || seq < 1) throw new UsageError('--start must be now, beginning or a seq');
  return seq;
}

function line(s: StreamInfo): string {
  const progress = `delivered through seq ${s.delivered_seq} of ${s.sealed_seq} sealed`;
  return `${s.id}  ${s.name}  ${s.format}  ${s.destination}  ${s.status}  ${progress}${s.last_error ? `  last error: ${s.last_error}` : ''}`;
}

/** `stream pause` and `stream resume`: the same shape, another state. */
function stateCommand(word: 'pause' | 'resume', summary: string, change: typeof pauseStream): Command {
  return {
    name: `stream ${word}`,
    args: '--id STREAM_ID',
    summary,
    options: { id: { type: 'string' } },
    async run(ctx) {
      const id = streamId(ctx);
      const stream = await change(ctx.sql, await tenantOfStream(ctx, id), id, CLI_ACTOR);
      return { text: line(stream), json: { stream } };
    },
  };
}

export const streamCommands: Command[] = [
  {
    name: 'stream add',
    args: '--tenant T --name N --format webhook|splunk_hec|datadog|s3_ndjson [--url U] [--secret-file F|-] [--start now|beginning|SEQ] [--batch-size N] [--index I] [--host H] [--service S] [--tags T] [--bucket B --prefix P --region R --endpoint E --force-path-style --access-key-id K]',
    summary: 'add a log stream; the credential (HEC token, Datadog API key, S3 secret key, own webhook secret) comes from --secret-file; a generated webhook secret is shown once',
    options: {
      tenant: { type: 'string' },
      name: { type: 'string' },
      format: { type: 'string' },
      url: { type: 'string' },
      'secret-file': { type: 'string' },
      start: { type: 'string' },
      'batch-size': { type: 'string' },
      index: { type: 'string' },
      host: { type: 'string' },
      service: { type: 'string' },
      tags: { type: 'string' },
      bucket: { type: 'string' },
      prefix: { type: 'string' },
      region: { type: 'string' },
      endpoint: { type: 'string' },
      'force-path-style': { type: 'boolean' },
      'access-key-id': { type: 'string' },
    },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const format = required(ctx, 'format');
      const secret = secretFromFile(ctx);
      const base = { format, name: required(ctx, 'name'), start: start(ctx), batch_size: positiveInt(ctx, 'batch-size', 500) };
      const needSecret = (what: string) => {
        if (!secret) throw new UsageError(`--secret-file is required: it holds the ${what}`);
        return secret;
      };
      const input =
        format === 'webhook'
          ? { ...base, url: required(ctx, 'url'), secret }
          : format === 'splunk_hec'
            ? { ...base, url: required(ctx, 'url'), token: needSecret('HEC token'), index: optional(ctx, 'index'), host: optional(ctx, 'host') }
            : format === 'datadog'
              ? { ...base, url: optional(ctx, 'url'), api_key: needSecret('Datadog API key'), service: optional(ctx, 'service'), host: optional(ctx, 'host'), tags: optional(ctx, 'tags') }
              : format === 's3_ndjson'
                ? {
                    ...base,
                    bucket: required(ctx, 'bucket'),
                    prefix: optional(ctx, 'prefix'),
                    region: optional(ctx, 'region'),
                    endpoint: optional(ctx, 'endpoint'),
                    force_path_style: ctx.values['force-path-style'] === true,
                    access_key_id: required(ctx, 'access-key-id'),
                    secret_access_key: needSecret('S3 secret access key'),
                  }
                : (() => {
                    throw new UsageError('--format must be webhook, splunk_hec, datadog or s3_ndjson');
                  })();
      const created = await createStream(ctx.sql, tenant.id, input, CLI_ACTOR);
      const shown = created.secret ? `\nWebhook secret (Standard Webhooks): ${created.secret}\nStore it now: it is not shown again.` : '';
      return { text: `${line(created.stream)}${shown}`, json: { stream: created.stream, secret: created.secret } };
    },
  },
  {
    name: 'stream list',
    args: '--tenant T',
    summary: 'list a tenant\'s log streams with their delivery status',
    options: { tenant: { type: 'string' } },
    async run(ctx) {
      const tenant = await tenantArg(ctx);
      const streams = await listStreams(ctx.sql, tenant.id);
      return { text: streams.map(line).join('\n') || 'no streams', json: { streams } };
    },
  },
  stateCommand('pause', 'stop delivering a log stream (it keeps its place)', pauseStream),
  stateCommand('resume', 'deliver a paused or failing log stream again, from where it stopped', resumeStream),
  {
    name: 'stream remove',
    args: '--id STREAM_ID',
    summary: 'remove a log stream',
    options: { id: { type: 'string' } },
    async run(ctx) {
      const id = streamId(ctx);
      const removed = await removeStream(ctx.sql, await tenantOfStream(ctx, id), id, CLI_ACTOR);
      return { text: `removed stream ${removed.id} (${removed.name})`, json: removed };
    },
  },
  {
    name: 'stream rotate-secret',
    args: '--id STREAM_ID [--secret-file F|-] [--access-key-id K]',
    summary: 'replace a stream\'s credential; a webhook gets a new secret (shown once) and the old one signs for 24 hours more',
    options: { id: { type: 'string' }, 'secret-file': { type: 'string' }, 'access-key-id': { type: 'string' } },
    async run(ctx) {
      const id = streamId(ctx);
      const secret = secretFromFile(ctx);
      const changed = await changeStreamSecret(
        ctx.sql,
        await tenantOfStream(ctx, id),
        { id, secret, token: secret, api_key: secret, secret_access_key: secret, access_key_id: optional(ctx, 'access-key-id') },
        CLI_ACTOR,
      );
      const shown = changed.secret ? `\nNew webhook secret: ${changed.secret}\nStore it now: it is not shown again. The previous secret also signs until ${changed.stream.previous_secret_until}.` : '';
      return { text: `${line(changed.stream)}${shown}`, json: { stream: changed.stream, secret: changed.secret } };
    },
  },
];
