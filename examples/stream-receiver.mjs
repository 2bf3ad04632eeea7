#!/usr/bin/env node
/**
 * An example receiver for oms-audit log streams in the webhook format
 * (docs/streams.md): it checks each request's Standard Webhooks signature and
 * timestamp, stores the body exactly as received in one file per batch, and
 * acknowledges (204) only once the file is on disk. A batch sent again (oms-audit
 * delivers at least once) lands in the same file. Node.js 20+, no dependencies.
 *
 *   STREAM_SECRETS=whsec_… node examples/stream-receiver.mjs --port 8080 --dir ./deliveries \
 *       [--verifier verify.mjs --fingerprint <operator key id>]
 *
 * With --verifier, the standalone verifier checks the folder a second after each quiet spell
 * of deliveries and prints its verdict (VERIFIED … or FAILED …); run it by hand any time:
 *   node verify.mjs stream --fingerprint <operator key id> ./deliveries
 *
 * STREAM_SECRETS may hold several secrets, comma-separated (during a rotation).
 * Put it behind your TLS terminator: oms-audit sends only to https:// URLs.
 */
import { execFile } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';

const TOLERANCE_SECONDS = 5 * 60;
const MAX_BODY_BYTES = 64 * 1024 * 1024;

const { values: args } = parseArgs({
  options: { port: { type: 'string' }, host: { type: 'string' }, dir: { type: 'string' }, verifier: { type: 'string' }, fingerprint: { type: 'string' } },
});
const port = Number(args.port ?? 8080);
const host = args.host ?? '127.0.0.1';
const dir = path.resolve(args.dir ?? 'deliveries');
const secrets = (process.env.STREAM_SECRETS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
if (!secrets.length) {
  console.error('Set STREAM_SECRETS to the stream\'s webhook secret (whsec_…)');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });

/** Standard Webhooks: HMAC-SHA256 over "<id>.<timestamp>.<body>" with the base64-decoded part after "whsec_". */
function signatureValid(id, timestamp, body, header) {
  const given = header.split(' ').filter((s) => s.startsWith('v1,')).map((s) => Buffer.from(s.slice(3), 'base64'));
  return secrets.some((secret) => {
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    const expected = createHmac('sha256', key).update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body])).digest();
    return given.some((g) => g.length === expected.length && timingSafeEqual(g, expected));
  });
}

/** Writes the file and syncs it and its folder before the receiver acknowledges. */
function storeDurably(name, body) {
  const file = path.join(dir, name);
  const temporary = `${file}.${process.pid}.partial`;
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  const folder = openSync(dir, 'r');
  try {
    fsyncSync(folder);
  } finally {
    closeSync(folder);
  }
}

/** Runs the verifier over the folder once deliveries pause for a second (one run at a time). */
let verifyTimer = null;
let verifying = false;
function verifySoon() {
  if (!args.verifier || !args.fingerprint) return;
  clearTimeout(verifyTimer);
  verifyTimer = setTimeout(() => {
    if (verifying) return verifySoon();
    verifying = true;
    execFile(process.execPath, [args.verifier, 'stream', '--fingerprint', args.fingerprint, dir], (err, stdout) => {
      verifying = false;
      console.log(stdout.trim() || `the verifier did not run: ${err?.message}`);
    });
  }, 1000);
}

const server = http.createServer((req, res) => {
  const answer = (status, message) => {
    res.writeHead(status, { 'content-type': 'text/plain' }).end(message);
  };
  if (req.method !== 'POST') return answer(405, 'POST only');
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) req.destroy();
    else chunks.push(chunk);
  });
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const id = req.headers['webhook-id'];
    const timestamp = req.headers['webhook-timestamp'];
    const signature = req.headers['webhook-signature'];
    if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signature !== 'string') return answer(400, 'missing webhook-id, webhook-timestamp or webhook-signature');
    if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return answer(400, 'timestamp outside the replay window');
    if (!signatureValid(id, timestamp, body, signature)) return answer(401, 'bad signature');
    try {
      // The batch id names the file: a batch delivered twice is stored once.
      storeDurably(`${id.replace(/[^A-Za-z0-9_-]/g, '_')}.json`, body);
    } catch (err) {
      console.error(`could not store batch ${id}: ${err.message}`);
      return answer(500, 'not stored');
    }
    res.writeHead(204).end();
    verifySoon();
  });
});

server.listen(port, host, () => {
  const address = server.address();
  console.log(`oms-audit stream receiver listening on http://${host}:${address.port}, storing in ${dir}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
