'use client';
/**
 * The person's time zone for every time the console shows or takes: UTC,
 * their browser's, or a named zone. Kept in a cookie (server components read
 * it too) and changed from the header; every <Timestamp> follows at once.
 */
import { createContext, useContext, useState, useSyncExternalStore } from 'react';
import { NAMED_ZONES, resolveZone, ZONE_COOKIE, type ZonePreference } from '@/lib/time.ts';

interface TimeZoneState {
  preference: ZonePreference;
  setPreference: (preference: ZonePreference) => void;
}

const TimeZoneContext = createContext<TimeZoneState>({ preference: 'UTC', setPreference: () => {} });

export function TimeZoneProvider({ initial, children }: { initial: ZonePreference; children: React.ReactNode }) {
  const [preference, setState] = useState(initial);
  function setPreference(next: ZonePreference) {
    document.cookie = `${ZONE_COOKIE}=${encodeURIComponent(next)}; path=/; max-age=31536000; samesite=lax`;
    setState(next);
  }
  return <TimeZoneContext.Provider value={{ preference, setPreference }}>{children}</TimeZoneContext.Provider>;
}

const subscribe = () => () => {};
const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** The zone to show times in. The browser's zone is known only in the browser: until hydrated it reads as UTC. */
export function useTimeZone(): { zone: string; preference: ZonePreference; setPreference: (p: ZonePreference) => void; browser: string | null } {
  const { preference, setPreference } = useContext(TimeZoneContext);
  const browser = useSyncExternalStore(subscribe, browserZone, () => null);
  return { zone: resolveZone(preference, browser ?? undefined), preference, setPreference, browser };
}

export function TimeZoneSelect() {
  const { preference, setPreference, browser } = useTimeZone();
  const named = NAMED_ZONES as readonly string[];
  const options = ['UTC', 'browser', ...named, ...(preference !== 'UTC' && preference !== 'browser' && !named.includes(preference) ? [preference] : [])];
  return (
    <div className="flex items-center gap-2">
      <label htmlFor="time-zone" className="text-slate-700 dark:text-slate-300">
        Time zone
      </label>
      <select id="time-zone" className="field-input w-auto" value={preference} onChange={(e) => setPreference(e.target.value)}>
        {options.map((z) => (
          <option key={z} value={z}>
            {z === 'browser' ? `Browser${browser ? ` (${browser})` : ''}` : z}
          </option>
        ))}
      </select>
    </div>
  );
}
