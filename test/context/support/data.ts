import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The .dockerignore conformance corpus, copied byte for byte into the repository (see its README). */
export const DATA_DIR = path.resolve(__dirname, '..', '..', 'conformance-data', 'dockerignore');

export function readData<T>(file: string): T {
  return JSON.parse(fs.readFileSync(path.join(DATA_DIR, file), 'utf8')) as T;
}

export interface MatchCase {
  patterns: string[];
  path: string;
  match: boolean;
  error?: boolean;
  platform?: string;
  source: string;
  api: string[];
  note?: string;
}

export interface DivergenceCase {
  patterns: string[];
  path: string;
  match: boolean;
  match_MatchesOrParentMatches: boolean;
  note?: string;
}

/** A readable, unique-enough test title for a match case. */
export function caseTitle(c: { patterns: string[]; path: string }, i: number): string {
  return `#${i} ${JSON.stringify(c.patterns)} ${JSON.stringify(c.path)}`;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'tsbuild-context-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Create files (and their parent directories) under root: path → content. */
export function writeTree(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
}
