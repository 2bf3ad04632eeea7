export default function Home() {
  return (
    <main className="mx-auto max-w-3xl p-8">
      <h1 className="text-2xl font-semibold">oms-audit</h1>
      <p className="mt-2 text-slate-600 dark:text-slate-300">The audit trail for order management systems.</p>
      <ul className="mt-6 list-disc pl-6 text-sm">
        <li>
          <code>POST /api/v1/audit/events</code> — log up to 500 events
        </li>
        <li>
          <code>GET /api/v1/audit/events</code> — search events
        </li>
        <li>
          <code>GET /api/health</code> — database and migrations
        </li>
      </ul>
    </main>
  );
}
