/** How the console writes a clock skew (received_at − occurred_at) or offset: signed milliseconds, µs at most. */
export function formatSkew(ms: number): string {
  const abs = Math.abs(ms);
  const text = abs >= 100 ? abs.toFixed(0) : abs >= 1 ? abs.toFixed(1) : abs.toFixed(3);
  return `${ms < 0 ? '−' : ''}${text} ms`;
}
