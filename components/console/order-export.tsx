'use client';
/**
 * The whole order's export buttons on an object's page: one file (CSV, JSON
 * Lines or a verifiable bundle) of the object's events and every event naming
 * it under the tenant's related keys, with the zone the person shows times in,
 * so the manifest states the range in that zone as well as in UTC.
 */
import { useTimeZone } from './time-zone.tsx';

export function OrderExport({ objectType, objectId }: { objectType: string; objectId: string }) {
  const { zone } = useTimeZone();
  const href = (extra: Record<string, string>) =>
    `/api/v1/audit/events/export?${new URLSearchParams({ about: objectId, about_type: objectType, order: 'asc', time_zone: zone, ...extra })}`;
  return (
    <div className="ml-auto flex items-center gap-2" role="group" aria-label="Export the whole order">
      <a className="btn" href={href({ format: 'csv' })} download data-testid="order-export-csv">
        Export CSV
      </a>
      <a className="btn" href={href({ format: 'jsonl' })} download>
        JSON Lines
      </a>
      <a className="btn" href={href({ format: 'csv', bundle: 'true' })} download>
        Verifiable bundle
      </a>
    </div>
  );
}
