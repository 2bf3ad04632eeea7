/**
 * What a console page shows while its server part loads. Each listing page's
 * loading.tsx uses it; pages that answer "not found" (an event, an object)
 * have none, so their 404 is decided before anything is streamed and the
 * response carries the 404 status (a streamed page is always 200).
 */
export function PageSkeleton() {
  return (
    <div aria-busy="true" aria-label="Loading" className="space-y-3">
      <div className="skeleton h-8 w-1/3" />
      <div className="skeleton h-24" />
      <div className="skeleton h-64" />
    </div>
  );
}
