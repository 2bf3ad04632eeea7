/**
 * A real RFC 3161 time-stamp authority for tests: Debian's `openssl ts -reply`
 * behind a small HTTP server on a loopback port. Each TSA has its own CA and
 * signer certificate (RSA or EC P-256; extended key usage timeStamping,
 * critical) in a temporary folder; `caFile` is what ANCHOR_TSA_CA_FILE trusts.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

const run = promisify(execFile);

export interface TestTsa {
  url: string;
  /** PEM of the TSA's CA certificate: trust it with ANCHOR_TSA_CA_FILE. */
  caFile: string;
  dir: string;
  /** Requests answered so far. */
  requests: () => number;
  /** While true, answer 503 (an unreachable or failing TSA). */
  setFailing(failing: boolean): void;
  stop(): Promise<void>;
}

const CA_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = oms-audit test TSA root
[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_tsa]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

const tsaConfig = (dir: string) => `[tsa]
default_tsa = tsa_config1
[tsa_config1]
serial = ${dir}/serial
crypto_device = builtin
signer_cert = ${dir}/tsa.crt
certs = ${dir}/ca.crt
signer_key = ${dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`;

export async function startTsa(options: { key?: 'rsa' | 'ec' } = {}): Promise<TestTsa> {
  const dir = await mkdtemp(path.join(tmpdir(), 'oms-audit-tsa-'));
  const f = (name: string) => path.join(dir, name);
  await writeFile(f('ca.cnf'), CA_CONFIG);
  await writeFile(f('tsa.cnf'), tsaConfig(dir));
  await writeFile(f('serial'), '01\n');
  await run('openssl', ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '3650', '-config', f('ca.cnf'), '-extensions', 'v3_ca']);
  const keyArgs = options.key === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  await run('openssl', ['req', '-new', ...keyArgs, '-nodes', '-keyout', f('tsa.key'), '-out', f('tsa.csr'), '-subj', '/CN=oms-audit test TSA']);
  await run('openssl', ['x509', '-req', '-in', f('tsa.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('tsa.crt'), '-days', '3650', '-extfile', f('ca.cnf'), '-extensions', 'v3_tsa']);

  let requests = 0;
  let failing = false;
  // One openssl at a time: it increments the serial file.
  let queue: Promise<unknown> = Promise.resolve();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failing || req.method !== 'POST' || req.headers['content-type'] !== 'application/timestamp-query') {
        res.writeHead(failing ? 503 : 400).end();
        return;
      }
      const id = randomUUID();
      const answer = (queue = queue.then(async () => {
        await writeFile(f(`${id}.tsq`), Buffer.concat(chunks));
        await run('openssl', ['ts', '-reply', '-queryfile', f(`${id}.tsq`), '-config', f('tsa.cnf'), '-section', 'tsa_config1', '-out', f(`${id}.tsr`)]);
        const reply = await readFile(f(`${id}.tsr`));
        await rm(f(`${id}.tsq`), { force: true });
        await rm(f(`${id}.tsr`), { force: true });
        return reply;
      }));
      answer.then(
        (reply) => {
          requests++;
          res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(reply);
        },
        () => res.writeHead(500).end(),
      );
      queue = answer.catch(() => {});
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/tsa`,
    caFile: f('ca.crt'),
    dir,
    requests: () => requests,
    setFailing: (value) => {
      failing = value;
    },
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
