// Server modules used in-process (createCaller, services) find the test database through the environment.
import path from 'node:path';
import { inject } from 'vitest';

process.env.DATABASE_URL = inject('databaseUrl');
process.env.OMS_AUDIT_DEMO = 'false';
// The server's data folder: in-process code signs and verifies session tokens with the server's generated secret.
process.env.OMS_AUDIT_DATA_DIR = path.join(inject('dataDir'), 'server');
process.env.OMS_AUDIT_SIGNING_KEY_FILE = inject('signingKeyFile');
process.env.OMS_AUDIT_MASTER_KEY_FILE = inject('masterKeyFile');
