/** Every CLI command, in help order. Each area keeps its commands in cli/commands/<area>.ts. */
import type { Command } from './command.ts';
import { databaseCommands } from './commands/database.ts';
import { integrityCommands } from './commands/integrity.ts';
import { keyCommands } from './commands/keys.ts';
import { retentionCommands } from './commands/retention.ts';
import { tenantCommands } from './commands/tenants.ts';
import { userCommands } from './commands/users.ts';
import { exportCommands } from './commands/exports.ts';
import { streamCommands } from './commands/streams.ts';
import { monitorCommands } from './commands/monitor.ts';
import { personalDataCommands } from './commands/personal-data.ts';
import { outboxCommands } from './commands/outbox.ts';

export const COMMANDS: Command[] = [
  ...databaseCommands,
  ...tenantCommands,
  ...keyCommands,
  ...integrityCommands,
  ...retentionCommands,
  ...userCommands,
  ...exportCommands,
  ...streamCommands,
  ...monitorCommands,
  ...personalDataCommands,
  ...outboxCommands,
];
