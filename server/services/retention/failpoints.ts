/**
 * Named points in the retention steps where a test can make the process die
 * (SIGKILL, as a crash or an operator's kill would) by setting
 * OMS_AUDIT_FAILPOINT=<name>. The crash tests use them to prove that every step
 * resumes without losing or doubling an event. Unset in production: a no-op.
 */
export type Failpoint =
  | 'archive:after-export'
  | 'archive:after-upload'
  | 'archive:before-verify'
  | 'archive:in-drop'
  | 'archive:after-drop'
  | 'expire:after-delete'
  | 'restore:in-load';

export function failpoint(name: Failpoint): void {
  if (process.env.OMS_AUDIT_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}
