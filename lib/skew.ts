/**
 * How the console writes a clock skew (received_at − occurred_at) or a reported
 * offset: signed, in ms up to µs for small values, in s, min, h or d for the
 * large ones (a backfilled event can be days "behind").
 */
export function formatSkew(ms: number): string {
  const abs = Math.abs(ms);
  const sign = ms < 0 ? '−' : '';
  if (abs < 1) return `${sign}${abs.toFixed(3)} ms`;
  if (abs < 100) return `${sign}${abs.toFixed(1)} ms`;
  if (abs < 10_000) return `${sign}${abs.toFixed(0)} ms`;
  if (abs < 120_000) return `${sign}${(abs / 1000).toFixed(1)} s`;
  if (abs < 2 * 3_600_000) return `${sign}${(abs / 60_000).toFixed(0)} min`;
  if (abs < 2 * 86_400_000) return `${sign}${(abs / 3_600_000).toFixed(1)} h`;
  return `${sign}${(abs / 86_400_000).toFixed(1)} d`;
}
