// Server modules used in-process (createCaller, services) find the test database through the environment.
import { inject } from 'vitest';

process.env.DATABASE_URL = inject('databaseUrl');
process.env.OMS_AUDIT_DEMO = 'false';
// In-process code reads secrets from the run's temporary folder, never from the checkout's .data.
process.env.OMS_AUDIT_DATA_DIR = inject('dataDir');
process.env.OMS_AUDIT_SIGNING_KEY_FILE = inject('signingKeyFile');
