export default function Loading() {
  return (
    <div aria-busy="true" aria-label="Loading" className="space-y-3">
      <div className="skeleton h-8 w-1/3" />
      <div className="skeleton h-24" />
      <div className="skeleton h-64" />
    </div>
  );
}
