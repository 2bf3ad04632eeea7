/** The application router: one sub-router per domain. */
import { router } from '@/server/trpc.ts';
import { accountRouter } from './account.ts';
import { apiKeysRouter } from './api-keys.ts';
import { eventsRouter } from './events.ts';
import { integrityRouter } from './integrity.ts';
import { exportsRouter } from './exports.ts';
import { savedSearchesRouter } from './saved-searches.ts';
import { sessionRouter } from './session.ts';
import { retentionRouter } from './retention.ts';
import { personalDataRouter } from './personal-data.ts';
import { usersRouter } from './users.ts';
import { systemRouter } from './system.ts';
import { streamsRouter } from './streams.ts';
import { clockRouter } from './clock.ts';
import { relatedKeysRouter } from './related-keys.ts';

export const appRouter = router({
  events: eventsRouter,
  session: sessionRouter,
  account: accountRouter,
  apiKeys: apiKeysRouter,
  users: usersRouter,
  savedSearches: savedSearchesRouter,
  exports: exportsRouter,
  integrity: integrityRouter,
  retention: retentionRouter,
  personalData: personalDataRouter,
  system: systemRouter,
  streams: streamsRouter,
  clock: clockRouter,
  relatedKeys: relatedKeysRouter,
});

export type AppRouter = typeof appRouter;
