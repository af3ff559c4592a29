import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contextEntries } from '../../src/context/entries';
import { loadIgnorePatterns, matcherFromIgnoreFile } from '../../src/context/dockerignore';
import { UserError } from '../../src/errors';
import { readData, tempDir, writeTree } from './support/data';

interface Scenario {
  test: string;
  files: Record<string, string>;
  build?: { filename: string };
  builds?: { filename: string; expect: string }[];
  expect?: { present?: Record<string, string>; absent?: string[]; error?: boolean };
}

const scenarios = readData<{ scenarios: Scenario[] }>('e2e-scenarios.json').scenarios;
const byName = (name: string): Scenario => scenarios.find((s) => s.test === name) as Scenario;

/** What `COPY . .` would see: the context after .dockerignore, as the build prepares it. */
async function copyableFiles(root: string, dockerfile: string): Promise<Map<string, string>> {
  // The builder reads the Dockerfile directly, whatever the patterns say.
  expect(fs.readFileSync(path.join(root, dockerfile), 'utf8')).toContain('FROM');
  const matcher = matcherFromIgnoreFile(await loadIgnorePatterns(root, path.join(root, dockerfile)));
  const entries = await contextEntries(root, { matcher });
  const out = new Map<string, string>();
  for (const e of entries) if (e.type === 'file') out.set(e.path, e.sha256 as string);
  return out;
}

describe("BuildKit's .dockerignore integration scenarios (e2e-scenarios.json)", () => {
  let root: string;
  beforeEach(() => {
    root = tempDir();
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test('all three scenarios are here', () => {
    expect(scenarios.map((s) => s.test).sort()).toEqual([
      'testDockerignore',
      'testDockerignoreInvalid',
      'testDockerignoreOverride',
    ]);
  });

  test('testDockerignore: excluded files, including the Dockerfile and .dockerignore, are not copied', async () => {
    const s = byName('testDockerignore');
    writeTree(root, s.files);
    const files = await copyableFiles(root, s.build?.filename as string);
    for (const [name, content] of Object.entries(s.expect?.present ?? {})) {
      expect(files.get(name)).toBe(createHash('sha256').update(content).digest('hex'));
    }
    for (const name of s.expect?.absent ?? []) expect(files.has(name)).toBe(false);
    expect([...files.keys()].sort()).toEqual(Object.keys(s.expect?.present ?? {}).sort());
  });

  test('testDockerignoreInvalid: a lone "!" fails the build with a user error', async () => {
    const s = byName('testDockerignoreInvalid');
    writeTree(root, s.files);
    expect(s.expect?.error).toBe(true);
    await expect(copyableFiles(root, 'Dockerfile')).rejects.toThrow(UserError);
    await expect(copyableFiles(root, 'Dockerfile')).rejects.toThrow('illegal exclusion pattern: "!"');
  });

  test('testDockerignoreOverride: <Dockerfile>.dockerignore replaces the context .dockerignore', async () => {
    const s = byName('testDockerignoreOverride');
    writeTree(root, s.files);
    // The RUN checks of the two Dockerfiles: foo present and bar absent, then the reverse.
    const first = await copyableFiles(root, 'Dockerfile');
    expect(first.has('foo')).toBe(true);
    expect(first.has('bar')).toBe(false);
    const second = await copyableFiles(root, 'Dockerfile2');
    expect(second.has('foo')).toBe(false);
    expect(second.has('bar')).toBe(true);
    expect(s.builds?.map((b) => b.filename)).toEqual(['Dockerfile', 'Dockerfile2']);
  });
});
