/**
 * Reading `.dockerignore`: which file applies (BuildKit prefers `<Dockerfile>.dockerignore`), and how its lines
 * become patterns (patternmatcher's `ignorefile.ReadAll`: `#` only as the very first byte, trimming, cleaning,
 * one leading `/` dropped).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors';
import { goClean } from '../go/path';
import { goTrimSpace } from './go-path';
import { PatternMatcher } from './pattern-matcher';

export interface IgnorePattern {
  /** The pattern as ReadAll returns it (an exception keeps its `!`). */
  pattern: string;
  /** 1-based line in the file. */
  line: number;
}

// bufio.Scanner's default limit: a line this long (or longer) makes ReadAll fail.
const MAX_LINE_BYTES = 64 * 1024;

/** `ignorefile.ReadAll` with line numbers. `fileName` is only used in error messages. */
export function parseDockerignore(content: string | Uint8Array, fileName: string): IgnorePattern[] {
  const text =
    typeof content === 'string' ? content : new TextDecoder('utf-8', { ignoreBOM: true }).decode(content);
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start an empty one.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const out: IgnorePattern[] = [];
  lines.forEach((rawLine, index) => {
    const line = index + 1;
    let s = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (Buffer.byteLength(rawLine, 'utf8') >= MAX_LINE_BYTES) {
      throw new UserError('error reading .dockerignore: line too long (64 KiB at most)', {
        file: fileName,
        line,
      });
    }
    if (index === 0 && s.startsWith('\uFEFF')) s = s.slice(1);
    // A comment only when `#` is the very first character: `  # x` is the pattern `# x`.
    if (s.startsWith('#')) return;
    s = goTrimSpace(s);
    if (s === '') return;
    const invert = s.startsWith('!');
    if (invert) s = goTrimSpace(s.slice(1));
    if (s.length > 0) {
      s = goClean(s);
      // Patterns are relative to the context root: `/foo` is `foo` (but `/` stays `/`).
      if (s.length > 1 && s.startsWith('/')) s = s.slice(1);
    }
    out.push({ pattern: invert ? '!' + s : s, line });
  });
  return out;
}

/** `ignorefile.ReadAll`: the cleaned patterns of a `.dockerignore` file, in order. */
export function readDockerignore(content: string | Uint8Array, fileName: string): string[] {
  return parseDockerignore(content, fileName).map((p) => p.pattern);
}

export interface IgnoreFile {
  /** The file that was read (as a path built from the arguments), or null when there is none. */
  file: string | null;
  patterns: string[];
  /** 1-based line of each pattern. */
  lines: number[];
}

/**
 * Find and read the ignore file for a build: `<dockerfilePath>.dockerignore` when it exists (it replaces the
 * context's file), else `<contextDir>/.dockerignore`, else none. Subdirectory `.dockerignore` files mean nothing.
 */
export async function loadIgnorePatterns(
  contextDir: string,
  dockerfilePath?: string | null,
): Promise<IgnoreFile> {
  const candidates = [
    ...(dockerfilePath ? [`${dockerfilePath}.dockerignore`] : []),
    path.join(contextDir, '.dockerignore'),
  ];
  for (const file of candidates) {
    const content = await readIfExists(file);
    if (content === null) continue;
    const parsed = parseDockerignore(content, file);
    return { file, patterns: parsed.map((p) => p.pattern), lines: parsed.map((p) => p.line) };
  }
  return { file: null, patterns: [], lines: [] };
}

/** Build the matcher for an ignore file; bad patterns raise `UserError` pointing at their line. */
export function matcherFromIgnoreFile(ignore: IgnoreFile): PatternMatcher {
  return PatternMatcher.create(
    ignore.patterns,
    ignore.file ? { file: ignore.file, lines: ignore.lines } : undefined,
  );
}

async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new UserError(`cannot read ${file}: ${(e as Error).message}`, { file, line: 0 });
  }
}
