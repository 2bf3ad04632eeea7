/**
 * A lean HTTP/1.1 load generator for small requests: one keep-alive socket per
 * client loop, each request written as bytes built once, the answer read by its
 * status line and Content-Length. On this 2-core machine the benchmark's own
 * client competes with the server for the CPU; node:http's client spends about
 * as much per request as PostgreSQL does per event, so single-event figures
 * measured with it were partly the client's. This one spends a fraction of that
 * (the ingest report states its cost), so the figures say more about the server.
 */
import net from 'node:net';

interface Pending {
  resolve: (answer: { status: number; body: string }) => void;
  reject: (err: Error) => void;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** One keep-alive connection that sends one request at a time. */
class Connection {
  private readonly socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;

  constructor(host: string, port: number) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  send(request: Buffer): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.removeAllListeners('close');
    this.socket.destroy();
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.pending = null;
    p?.reject(err);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const headerEnd = this.buffer.indexOf(HEADER_END);
    if (headerEnd === -1) return;
    const head = this.buffer.toString('latin1', 0, headerEnd);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) return this.fail(new Error(`answer without Content-Length: ${head.split('\r\n')[0]}`));
    const end = headerEnd + 4 + Number(length[1]);
    if (this.buffer.length < end) return;
    const answer = { status: Number(head.slice(9, 12)), body: this.buffer.toString('utf8', headerEnd + 4, end) };
    this.buffer = this.buffer.subarray(end);
    const p = this.pending;
    this.pending = null;
    p?.resolve(answer);
  }
}

export interface LeanClient {
  /** POSTs `bodies[k]` (k advancing on every call) on the connection of `loop`. */
  post(loop: number): Promise<{ status: number; body: string }>;
  close(): void;
}

/** Requests to POST `url` with `headers`, one body per request in turn; `loops` connections. */
export function leanClient(url: string, headers: Record<string, string>, bodies: readonly string[], loops: number): LeanClient {
  const target = new URL(url);
  const head = Object.entries({ host: target.host, 'content-type': 'application/json', ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const requests = bodies.map((body) => Buffer.from(`POST ${target.pathname} HTTP/1.1\r\n${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`));
  const connections = Array.from({ length: loops }, () => new Connection(target.hostname, Number(target.port)));
  let k = 0;
  return {
    post: (loop) => connections[loop]!.send(requests[k++ % requests.length]!),
    close: () => connections.forEach((c) => c.close()),
  };
}
