// Server modules used in-process (createCaller, services) find the test database through the environment.
import path from 'node:path';
import { inject } from 'vitest';

process.env.DATABASE_URL = inject('databaseUrl');
// Through a transaction pooler (OMS_AUDIT_TEST_TOPOLOGY=pooler): no prepared statements, as in production there.
process.env.DB_PREPARE = String(inject('dbPrepare'));
process.env.OMS_AUDIT_DEMO = 'false';
// The server's data folder: in-process code signs and verifies session tokens with the server's generated secret.
process.env.OMS_AUDIT_DATA_DIR = path.join(inject('dataDir'), 'server');
process.env.OMS_AUDIT_SIGNING_KEY_FILE = inject('signingKeyFile');
process.env.OMS_AUDIT_MASTER_KEY_FILE = inject('masterKeyFile');
// Tests that compare the search shape's figures with plain counts give it time to count exactly on a loaded
// machine; its own tests (search-shape.test.ts) force the budget and the sample.
process.env.SHAPE_BUDGET_MS ??= '10000';
