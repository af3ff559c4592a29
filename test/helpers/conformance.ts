import * as fs from 'node:fs';
import * as path from 'node:path';

/** The conformance corpus, copied byte for byte into the repository so tests run from any fresh clone. */
export const CONFORMANCE_DIR = path.resolve(__dirname, '..', 'conformance-data');

export function conformancePath(...parts: string[]): string {
  return path.join(CONFORMANCE_DIR, ...parts);
}

export function readJson<T>(...parts: string[]): T {
  return JSON.parse(fs.readFileSync(conformancePath(...parts), 'utf8')) as T;
}

/** Subdirectories of a corpus folder, sorted, that hold a file named `marker`. */
export function caseDirs(folder: string, marker = 'Dockerfile'): string[] {
  const dir = conformancePath(folder);
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, marker)))
    .map((e) => e.name)
    .sort();
}
