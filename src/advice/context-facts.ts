/**
 * What the context rule needs to know of the build context, found without walking it: one `lstat` of `.git` and
 * one of `node_modules` at its root, and — only when one is there — the ignore file the build applies, read and
 * asked whether it leaves that name out (as the walk would decide it).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { loadIgnorePatterns, matcherFromIgnoreFile } from '../context';
import { TsbuildError } from '../errors';
import type { ContextFacts } from './types';

/** The names at the context root that, left in, make a copy of the whole context miss on every commit or install. */
export const VOLATILE_ENTRIES = ['.git', 'node_modules'];

export interface ContextLocation {
  dir: string;
  /** The Dockerfile on disk, whose `<Dockerfile>.dockerignore` wins; null when it came from elsewhere (stdin). */
  dockerfilePath: string | null;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.lstat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * The facts, or undefined when they cannot be told (a bad `.dockerignore`, which the build itself reports when it
 * reads the context).
 */
export async function contextFacts(where: ContextLocation): Promise<ContextFacts | undefined> {
  const present: string[] = [];
  for (const name of VOLATILE_ENTRIES) if (await exists(path.join(where.dir, name))) present.push(name);
  if (present.length === 0) return { ignoreFile: null, included: [] };
  try {
    const ignore = await loadIgnorePatterns(where.dir, where.dockerfilePath);
    const matcher = matcherFromIgnoreFile(ignore);
    return { ignoreFile: ignore.file, included: present.filter((name) => !matcher.matches(name)) };
  } catch (err) {
    if (err instanceof TsbuildError) return undefined;
    throw err;
  }
}
