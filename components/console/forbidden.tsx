export function Forbidden({ what, role }: { what: string; role: string }) {
  return (
    <div role="alert" className="card mx-auto mt-8 max-w-lg p-6 text-center">
      <h1 className="text-lg font-semibold">Not allowed</h1>
      <p className="mt-2 text-sm text-slate-700 dark:text-slate-300">
        {what} needs the {role} role in this tenant.
      </p>
    </div>
  );
}
