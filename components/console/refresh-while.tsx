'use client';
/**
 * Keeps a server-rendered page current while something on it is still in
 * progress (an export streaming): the page is refreshed every second until
 * `active` is false, so a status never stays "streaming" on screen after the
 * export has completed or failed.
 */
import { useRouter } from 'next/navigation';
import { useEffect } from 'react';

export function RefreshWhile({ active, everyMs = 1000 }: { active: boolean; everyMs?: number }) {
  const router = useRouter();
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => router.refresh(), everyMs);
    return () => clearInterval(timer);
  }, [active, everyMs, router]);
  return null;
}
