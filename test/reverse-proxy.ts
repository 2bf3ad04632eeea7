/**
 * A reverse proxy in front of the real server, as operators put one (nginx,
 * a load balancer): forwards every request, and can be told to refuse bodies
 * above a size (413 with its own page, as nginx's client_max_body_size does)
 * or to be down (the connection is closed without an answer), or to lose
 * answers (the server handled the request, the client never hears of it)
 * or answer stale (201 naming no event, as a misbehaving cache would).
 */
import http from 'node:http';
import { freePort } from './ports.ts';

export interface ReverseProxy {
  url: string;
  /** Closes every connection without answering while false. */
  setUp(up: boolean): void;
  /** Bodies above this many bytes get a 413 from the proxy itself. */
  setMaxBodyBytes(bytes: number): void;
  /** The next `count` requests reach the server, but their answers are lost (the connection is closed). */
  loseAnswers(count: number): void;
  /** The next `count` answers are replaced by a stale one: 201 with an ingest result naming no event (a misbehaving cache). */
  staleAnswers(count: number): void;
  /** Requests that reached the server through the proxy. */
  forwarded(): number;
  close(): Promise<void>;
}

export async function startReverseProxy(target: string, options: { maxBodyBytes?: number } = {}): Promise<ReverseProxy> {
  let up = true;
  let maxBodyBytes = options.maxBodyBytes ?? Infinity;
  let forwarded = 0;
  let answersToLose = 0;
  let answersToStale = 0;
  const server = http.createServer((req, res) => {
    if (!up) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (body.length > maxBodyBytes) {
        res.writeHead(413, { 'content-type': 'text/html' }).end('<html><body><h1>413 Request Entity Too Large</h1></body></html>');
        return;
      }
      forwarded++;
      const lose = answersToLose > 0;
      if (lose) answersToLose--;
      const stale = !lose && answersToStale > 0;
      if (stale) answersToStale--;
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k))) as Record<string, string>;
      fetch(`${target}${req.url}`, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body })
        .then(async (answer) => {
          const text = Buffer.from(await answer.arrayBuffer());
          if (lose) return void req.socket.destroy();
          if (stale) {
            const old = { created_count: 0, duplicate_count: 0, ids: [], duplicate_ids: [], duration_ms: 1, method: 'rest' };
            return void res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(old));
          }
          const out: Record<string, string> = {};
          answer.headers.forEach((value, key) => {
            if (!['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(key)) out[key] = value;
          });
          res.writeHead(answer.status, out).end(text);
        })
        .catch(() => res.writeHead(502).end('bad gateway'));
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    setUp: (value) => {
      up = value;
      if (!up) server.closeAllConnections();
    },
    setMaxBodyBytes: (bytes) => (maxBodyBytes = bytes),
    loseAnswers: (count) => (answersToLose = count),
    staleAnswers: (count) => (answersToStale = count),
    forwarded: () => forwarded,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
