/** The application router: one sub-router per domain. */
import { router } from '@/server/trpc.ts';
import { eventsRouter } from './events.ts';

export const appRouter = router({
  events: eventsRouter,
});

export type AppRouter = typeof appRouter;
