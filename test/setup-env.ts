// Server modules used in-process (createCaller, services) find the test database through the environment.
import { inject } from 'vitest';

process.env.DATABASE_URL = inject('databaseUrl');
process.env.OMS_AUDIT_DEMO = 'false';
