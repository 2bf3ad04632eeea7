/**
 * Gives a project outside the repository the npm packages it needs without
 * the network: copies packages (and everything they depend on, in the same
 * layout) from the repository's node_modules, with their bin links and npm's
 * record of them (node_modules/.package-lock.json), so that a later
 * `npm install --offline` there finds them installed and fetches nothing.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(import.meta.dirname, '..');

interface Manifest {
  name: string;
  bin?: string | Record<string, string>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const manifest = (dir: string): Manifest => JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;

/** Where Node would find `name` when required from `fromDir` (within the repository). */
function locate(name: string, fromDir: string): string | null {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === repoRoot || dir === path.dirname(dir)) return null;
  }
}

/** The installed folders of `names` and of everything they need (peers included, when installed). */
export function dependencyClosure(names: string[]): string[] {
  const seen = new Set<string>();
  const visit = (dir: string) => {
    if (seen.has(dir)) return;
    seen.add(dir);
    const pkg = manifest(dir);
    for (const name of Object.keys({ ...pkg.peerDependencies, ...pkg.optionalDependencies, ...pkg.dependencies })) {
      const found = locate(name, dir);
      if (found) visit(found);
      else if (pkg.dependencies?.[name]) throw new Error(`${name}, needed by ${path.relative(repoRoot, dir)}, is not installed`);
    }
  };
  for (const name of names) {
    const found = locate(name, repoRoot);
    if (!found) throw new Error(`${name} is not installed in the repository`);
    visit(found);
  }
  return [...seen].map((dir) => path.relative(repoRoot, dir));
}

/** Copies `names` and their dependencies into `projectDir`/node_modules. Returns the copied folders (relative). */
export function copyInstalledPackages(names: string[], projectDir: string): string[] {
  const folders = dependencyClosure(names);
  for (const folder of folders) cpSync(path.join(repoRoot, folder), path.join(projectDir, folder), { recursive: true });
  for (const folder of folders) {
    const pkg = manifest(path.join(repoRoot, folder));
    if (!pkg.bin) continue;
    const bins = typeof pkg.bin === 'string' ? { [pkg.name.split('/').pop()!]: pkg.bin } : pkg.bin;
    const binDir = path.join(projectDir, folder.slice(0, folder.lastIndexOf('node_modules') + 'node_modules'.length), '.bin');
    mkdirSync(binDir, { recursive: true });
    for (const [name, target] of Object.entries(bins)) {
      const link = path.join(binDir, name);
      if (!existsSync(link)) symlinkSync(path.relative(binDir, path.join(projectDir, folder, target)), link);
    }
  }
  // npm's record of what is installed, written last so it is newer than every folder it describes.
  const hidden = JSON.parse(readFileSync(path.join(repoRoot, 'node_modules', '.package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  const packages = Object.fromEntries(folders.map((folder) => [folder, hidden.packages[folder]]));
  writeFileSync(path.join(projectDir, 'node_modules', '.package-lock.json'), JSON.stringify({ name: path.basename(projectDir), lockfileVersion: 3, requires: true, packages }, null, 2));
  return folders;
}
