import path from 'node:path';

/** The oms-audit checkout: where migrations live and relative data folders resolve. */
export function projectRoot(): string {
  return process.env.OMS_AUDIT_ROOT ?? process.cwd();
}

export function fromRoot(...parts: string[]): string {
  return path.resolve(projectRoot(), ...parts);
}
