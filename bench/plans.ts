/**
 * Checks EXPLAIN (ANALYZE) output of tenant-scoped queries. Also a command that
 * re-checks the plans of a query report: node --import tsx bench/plans.ts <report.md>
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

/**
 * Whether a plan reads only the tenant's rows: every scan of an events partition is an index (or bitmap) scan whose
 * condition starts with the tenant, or reads nothing at all (an empty partition of a month still ahead).
 */
export function plansStayInTenant(plan: string, tenantId: string): boolean {
  const lines = plan.split('\n');
  return lines.every((line, k) => {
    if (!/ on audit_events_\d{4}_\d{2}/.test(line)) return true;
    const details = [];
    // The node's own detail lines: up to its first child, its next sibling or the planning summary.
    for (let j = k + 1; j < lines.length && !lines[j]!.includes('->') && /^\s/.test(lines[j]!); j++) details.push(lines[j]!);
    if (/(Index Scan|Index Only Scan|Bitmap Heap Scan)/.test(line)) {
      // A bitmap over several index scans (OR) rechecks `(((tenant_id = … AND …) OR (…))`: each of those scans is checked on its own line.
      return details.some((d) => new RegExp(`(Index|Recheck) Cond: \\(+tenant_id = '${tenantId}'::uuid\\)`).test(d));
    }
    const readsNothing = /actual time=[\d.]+\.\.[\d.]+ rows=0(\.00)? /.test(line) && !details.some((d) => d.includes('Rows Removed by Filter') || d.includes('Buffers:'));
    return readsNothing || / \(never executed\)/.test(line);
  });
}

/** The "### <shape>" sections of a query report with their plan and whether it stays in the tenant. */
export function checkReport(markdown: string): { shape: string; tenantOnly: boolean }[] {
  return markdown
    .split('\n### ')
    .slice(1)
    .map((section) => {
      const shape = section.split('\n')[0]!;
      const plan = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
      const tenant = /tenant_id = '([0-9a-f-]{36})'::uuid/.exec(plan)?.[1] ?? '';
      return { shape, tenantOnly: plansStayInTenant(plan, tenant) };
    });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of checkReport(await readFile(process.argv[2]!, 'utf8'))) console.log(`${r.tenantOnly ? 'yes' : 'NO '}  ${r.shape}`);
}
