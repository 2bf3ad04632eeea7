/**
 * The front door during a shutdown, over real HTTP: a request in flight is
 * answered in full, a request that arrives on an open connection afterwards
 * gets 503 with Retry-After, a new connection is refused, and a request
 * that outlasts the grace period is cut off and counted.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '@/test/ports.ts';
import { createHost } from './host.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function slowHost(slowMs: number) {
  let entered = () => {};
  const inSlow = new Promise<void>((r) => (entered = r));
  const host = createHost(async (req, res) => {
    if (req.url === '/slow') {
      entered();
      await sleep(slowMs);
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`done ${req.url}`);
  });
  const port = await freePort();
  await host.listen(port, '127.0.0.1');
  return { host, port, inSlow };
}

/** Sends raw bytes on one connection and collects everything the server sends back until it closes. */
function connection(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (received += d));
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  socket.on('error', () => {});
  return { socket, closed, received: () => received };
}

const get = (url: string) => `GET ${url} HTTP/1.1\r\nhost: x\r\n\r\n`;

describe('the host during a shutdown', () => {
  it('finishes the request in flight, answers a request completed afterwards on an open connection 503, and refuses new connections', async () => {
    const { host, port, inSlow } = await slowHost(600);
    const inFlight = connection(port);
    inFlight.socket.write(get('/slow'));
    // A request whose headers are still arriving when the shutdown begins.
    const arriving = connection(port);
    arriving.socket.write('GET /after HTTP/1.1\r\nhost: x\r\n');
    await inSlow;
    await sleep(100);
    const closing = host.close(5_000);
    expect(host.inFlight()).toBe(1);
    arriving.socket.write('\r\n');
    const refused = await new Promise<string>((resolve) => {
      const late = net.connect(port, '127.0.0.1');
      late.on('connect', () => resolve('connected'));
      late.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(await closing).toEqual({ unfinished: 0 });
    await Promise.all([inFlight.closed, arriving.closed]);
    expect(inFlight.received()).toMatch(/^HTTP\/1\.1 200/);
    expect(inFlight.received()).toContain('done /slow');
    expect(arriving.received()).toMatch(/^HTTP\/1\.1 503/);
    expect(arriving.received()).toMatch(/retry-after: 1/i);
    expect(arriving.received()).toContain('"code":"unavailable"');
  });

  it('cuts off a request that outlasts the grace period and says how many', async () => {
    const { host, port, inSlow } = await slowHost(5_000);
    const client = connection(port);
    client.socket.write(get('/slow'));
    await inSlow;
    const started = Date.now();
    expect(await host.close(300)).toEqual({ unfinished: 1 });
    expect(Date.now() - started).toBeLessThan(3_000);
    await client.closed;
    expect(client.received()).toBe('');
  });
});
