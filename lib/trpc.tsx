'use client';
/**
 * The console's tRPC client (TanStack Query). Mutations carry the CSRF token
 * from its cookie; the session itself is an httpOnly cookie the browser sends.
 */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, httpLink, splitLink } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { NuqsAdapter } from 'nuqs/adapters/next/app';
import { useState } from 'react';
import type { AppRouter } from '@/server/routers/_app.ts';

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

export function csrfToken(): string {
  const match = /(?:^|;\s*)oms_csrf=([^;]*)/.exec(document.cookie);
  return match ? decodeURIComponent(match[1]!) : '';
}

function makeQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 15_000,
        retry: (count, error) => {
          const status = (error as { data?: { httpStatus?: number } }).data?.httpStatus ?? 0;
          return status >= 500 && count < 2;
        },
      },
    },
  });
}

/** Inputs longer than this (as JSON) travel in a request body rather than the URL. */
const LONG_INPUT_CHARS = 1500;

export function ConsoleProviders({ children }: { children: React.ReactNode }) {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        splitLink({
          // A query whose input would not fit in a URL (a long filter) is sent as a POST of its own.
          condition: (op) => op.type === 'query' && JSON.stringify(op.input ?? null).length > LONG_INPUT_CHARS,
          true: httpLink({ url: '/api/trpc', methodOverride: 'POST', headers: () => ({ 'x-csrf-token': csrfToken() }) }),
          false: httpBatchLink({ url: '/api/trpc', maxURLLength: 4000, headers: () => ({ 'x-csrf-token': csrfToken() }) }),
        }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <NuqsAdapter>{children}</NuqsAdapter>
      </TRPCProvider>
    </QueryClientProvider>
  );
}

/** The message a person should see for a failed call. */
export function errorMessage(error: unknown): string {
  if (!error) return '';
  const e = error as { message?: string; data?: { httpStatus?: number } };
  if (e.data?.httpStatus === 401) return 'Your session has ended. Sign in again.';
  return e.message || 'Something went wrong';
}
