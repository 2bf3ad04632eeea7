import Link from 'next/link';

export default function NotFound() {
  return (
    <div className="card mx-auto mt-8 max-w-lg p-6 text-center">
      <h1 className="text-lg font-semibold">Not found</h1>
      <p className="mt-2 text-sm text-slate-700 dark:text-slate-300">There is no such event or page in this tenant.</p>
      <Link href="/" className="link mt-4 inline-block">
        Back to search
      </Link>
    </div>
  );
}
