/**
 * False while the server renders and the browser hydrates, true afterwards:
 * what depends on the browser (its clock, its time zone) is shown only then,
 * so the server's HTML and the first browser render agree.
 */
import { useSyncExternalStore } from 'react';

const subscribe = () => () => {};

export function useHydrated(): boolean {
  return useSyncExternalStore(
    subscribe,
    () => true,
    () => false,
  );
}
