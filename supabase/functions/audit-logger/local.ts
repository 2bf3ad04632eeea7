/**
 * Local stand-in for Supabase's edge runtime, used by npm start: runs index.ts
 * as deployed, on DENO_SERVE_ADDRESS (the same path as Supabase's local stack,
 * /functions/v1/audit-logger). Stops when asked (SIGTERM, SIGINT) after the
 * requests in progress are answered, and when the process that started it is
 * gone (its stdin pipe closes), so a killed server leaves no function behind.
 */
const { handler, server } = await import('./index.ts');

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const forced = setTimeout(() => Deno.exit(1), 10_000);
  await server.shutdown();
  await handler.sql.end({ timeout: 5 }).catch(() => {});
  clearTimeout(forced);
  Deno.exit(0);
}

Deno.addSignalListener('SIGTERM', stop);
Deno.addSignalListener('SIGINT', stop);

// Reads until the parent's end of the pipe closes.
(async () => {
  const buffer = new Uint8Array(64);
  while ((await Deno.stdin.read(buffer)) !== null) {
    // nothing to read from the parent; only its end matters
  }
  await stop();
})();
