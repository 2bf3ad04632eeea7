/** The application router: one sub-router per domain. */
import { router } from '@/server/trpc.ts';
import { eventsRouter } from './events.ts';
import { integrityRouter } from './integrity.ts';
import { retentionRouter } from './retention.ts';

export const appRouter = router({
  events: eventsRouter,
  integrity: integrityRouter,
  retention: retentionRouter,
});

export type AppRouter = typeof appRouter;
