/**
 * Sends one encoded batch to a stream's receiver and says whether it was
 * acknowledged: an HTTP POST (webhook, Splunk HEC, Datadog) or an S3 PUT.
 * Each request has a deadline; redirects are not followed; names are resolved
 * here and every address checked, so a stream cannot be pointed at this
 * machine or the internal network (unless the operator allows it). Nothing
 * here logs; a failure's message never holds a credential.
 */
import dns, { type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { STREAM_FORMATS, s3ObjectKey, type StreamFormatName } from '@/verifier/stream-format.ts';
import { addressAllowed, checkDestination, type StreamCredential, type StreamSettings } from './settings.ts';
import { webhookHeaders } from './webhook-signature.ts';

export type DeliveryOutcome =
  | { ok: true; status: number }
  | { ok: false; status: number | null; message: string; retryAfterSeconds?: number; gone?: boolean; kind: 'status' | 'timeout' | 'network' | 'refused' };

export interface Delivery {
  format: StreamFormatName;
  settings: StreamSettings;
  credential: StreamCredential;
  /** Webhook secrets that sign this attempt: the current one, and the previous one during a rotation. */
  webhookSecrets: string[];
  streamId: string;
  batchId: string;
  seqFrom: number;
  seqTo: number;
  body: string;
}

export interface DeliveryOptions {
  timeoutMs: number;
  allowPrivateNetworks: boolean;
}

const USER_AGENT = 'oms-audit-stream/1';

class DestinationRefused extends Error {}

/** DNS lookup that refuses names resolving to addresses a stream may not reach. */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses as LookupAddress[];
      const refused = list.find((a) => !addressAllowed(a.address, allowPrivate));
      if (refused || !list.length) {
        return callback(new DestinationRefused(`${hostname} resolves to ${refused?.address ?? 'nothing'}, an address streams may not reach (loopback, private, link-local or reserved)`), '');
      }
      if (options.all) callback(null, list);
      else callback(null, list[0]!.address, list[0]!.family);
    });
  }) as LookupFunction;
}

/** Removes every credential string from text a receiver sent back (it is shown to admins). */
function scrub(text: string, delivery: Delivery): string {
  let out = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, 300);
  for (const secret of [...Object.values(delivery.credential), ...delivery.webhookSecrets]) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out;
}

function retryAfter(value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

function httpHeaders(delivery: Delivery): Record<string, string> {
  const c = delivery.credential as Record<string, string>;
  switch (delivery.format) {
    case 'webhook':
      return webhookHeaders(delivery.webhookSecrets, delivery.batchId, Math.floor(Date.now() / 1000), delivery.body);
    case 'splunk_hec':
      return { authorization: `Splunk ${c.token}` };
    case 'datadog':
      return { 'dd-api-key': c.api_key! };
    default:
      return {};
  }
}

function postHttp(delivery: Delivery, options: DeliveryOptions): Promise<DeliveryOutcome> {
  const url = checkDestination(delivery.settings.url!, options.allowPrivateNetworks);
  const body = Buffer.from(delivery.body, 'utf8');
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: DeliveryOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const req = request(
      url,
      {
        method: 'POST',
        lookup: guardedLookup(options.allowPrivateNetworks),
        headers: {
          'content-type': STREAM_FORMATS[delivery.format].contentType,
          'content-length': String(body.length),
          'user-agent': USER_AGENT,
          ...httpHeaders(delivery),
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < 4096) text += chunk;
        });
        res.on('error', (err) => finish({ ok: false, status, kind: 'network', message: `the answer broke off (${err.message})` }));
        res.on('end', () => {
          if (status >= 200 && status < 300) return finish({ ok: true, status });
          const detail = scrub(text, delivery);
          finish({
            ok: false,
            status,
            kind: 'status',
            message: `the receiver answered ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}${detail ? `: ${detail}` : ''}`,
            retryAfterSeconds: retryAfter(res.headers['retry-after']),
            gone: status === 410,
          });
        });
      },
    );
    const timer = setTimeout(() => {
      finish({ ok: false, status: null, kind: 'timeout', message: `no answer within ${options.timeoutMs / 1000} s` });
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof DestinationRefused) return finish({ ok: false, status: null, kind: 'refused', message: `destination refused: ${err.message}` });
      finish({ ok: false, status: null, kind: 'network', message: `${url.host}: ${err.code ?? err.message}` });
    });
    req.end(body);
  });
}

async function putS3(delivery: Delivery, options: DeliveryOptions): Promise<DeliveryOutcome> {
  const s = delivery.settings;
  if (s.endpoint) checkDestination(s.endpoint, options.allowPrivateNetworks, 'endpoint');
  // The SDK warns that its releases from 2027 on need Node 22; oms-audit pins one that supports Node 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const { createHash } = await import('node:crypto');
  const c = delivery.credential as { access_key_id: string; secret_access_key: string };
  const lookup = guardedLookup(options.allowPrivateNetworks);
  const client = new S3Client({
    region: s.region ?? 'us-east-1',
    endpoint: s.endpoint,
    forcePathStyle: s.force_path_style ?? false,
    credentials: { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Retries are the stream's own (backoff with jitter, the same object key each time).
    maxAttempts: 1,
    requestHandler: {
      requestTimeout: options.timeoutMs,
      connectionTimeout: options.timeoutMs,
      httpAgent: new http.Agent({ lookup }),
      httpsAgent: new https.Agent({ lookup }),
    },
  });
  const body = Buffer.from(delivery.body, 'utf8');
  const abort = AbortSignal.timeout(options.timeoutMs);
  try {
    await client.send(
      new PutObjectCommand({
        Bucket: s.bucket,
        Key: s3ObjectKey(s.prefix ?? '', delivery.streamId, delivery.seqFrom, delivery.seqTo),
        Body: body,
        ContentType: STREAM_FORMATS.s3_ndjson.contentType,
        ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
      }),
      { abortSignal: abort },
    );
    return { ok: true, status: 200 };
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number }; code?: string; cause?: unknown };
    if (e instanceof DestinationRefused || e.cause instanceof DestinationRefused) return { ok: false, status: null, kind: 'refused', message: `destination refused: ${(e.cause as Error | undefined)?.message ?? e.message}` };
    const status = e.$metadata?.httpStatusCode ?? null;
    if (abort.aborted || e.name === 'TimeoutError' || e.name === 'AbortError') return { ok: false, status, kind: 'timeout', message: `no answer from S3 within ${options.timeoutMs / 1000} s` };
    return { ok: false, status, kind: status ? 'status' : 'network', message: `S3 ${status ? `answered ${status} ` : ''}${e.name}${e.code && e.code !== e.name ? ` (${e.code})` : ''}` };
  } finally {
    client.destroy();
  }
}

/** One attempt to hand a batch to its receiver. */
export async function sendBatch(delivery: Delivery, options: DeliveryOptions): Promise<DeliveryOutcome> {
  try {
    return delivery.format === 's3_ndjson' ? await putS3(delivery, options) : await postHttp(delivery, options);
  } catch (err) {
    // A destination refused before connecting (its URL), or a local error: a failed attempt, never a crash.
    return { ok: false, status: null, kind: 'refused', message: (err as Error).message };
  }
}
