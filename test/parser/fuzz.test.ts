import * as fs from 'node:fs';
import * as path from 'node:path';
import { dumpDockerfile, parseDockerfile, DockerfileSyntaxError } from '../../src/parser';
import { caseDirs, conformancePath } from '../helpers/conformance';

/**
 * Mutation fuzzing: thousands of randomly corrupted corpus files. The parser may accept or reject each one, but it
 * must never fail with anything other than its own typed, located error, and an accepted file must dump.
 */

const FOLDERS = ['dockerfile-parser/testfiles', 'dockerfile-parser/derived/testfiles', 'real-dockerfiles'];
const SEEDS = FOLDERS.flatMap((folder) =>
  caseDirs(folder).map((name) => fs.readFileSync(path.join(conformancePath(folder), name, 'Dockerfile'))),
);

// Fragments that reach the parser's tricky paths: continuations, heredocs, JSON, flags, directives, quotes.
const FRAGMENTS = [
  '\\',
  '`',
  '\\\n',
  '`\n',
  '<<EOF',
  '<<-EOF',
  "<<'EOF'",
  '\nEOF\n',
  '[',
  ']',
  '["a", 1]',
  '"',
  "'",
  '\n',
  '\r\n',
  '#',
  '# escape=`\n',
  '# syntax=x\n',
  '--',
  '--from=',
  '=',
  ' ',
  '\t',
  'ONBUILD ',
  'ENV ',
  'LABEL ',
  'RUN ',
  'HEALTHCHECK ',
  'COPY ',
  '\u00a0',
  '\u0085',
  '\xff',
  '\ufeff',
  '$',
  '${',
  '}',
];

/** A small deterministic PRNG (mulberry32), so a failure can be reproduced from its iteration number. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(input: Buffer, rand: () => number): Buffer {
  let out = Buffer.from(input);
  const edits = 1 + Math.floor(rand() * 6);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (out.length + 1));
    const kind = rand();
    if (kind < 0.3 && out.length > 0) {
      out[Math.min(at, out.length - 1)] = Math.floor(rand() * 256);
    } else if (kind < 0.5) {
      out = Buffer.concat([
        out.subarray(0, at),
        out.subarray(Math.min(out.length, at + Math.floor(rand() * 40))),
      ]);
    } else {
      const fragment = Buffer.from(FRAGMENTS[Math.floor(rand() * FRAGMENTS.length)], 'latin1');
      out = Buffer.concat([out.subarray(0, at), fragment, out.subarray(at)]);
    }
  }
  return out;
}

const ITERATIONS = 4000;

test(`${ITERATIONS} corrupted Dockerfiles never crash the parser`, () => {
  const rand = prng(20261124);
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const input = mutate(SEEDS[i % SEEDS.length], rand);
    try {
      const df = parseDockerfile(input);
      expect(typeof dumpDockerfile(df)).toBe('string');
      accepted++;
    } catch (err) {
      if (!(err instanceof DockerfileSyntaxError)) {
        throw new Error(
          `iteration ${i}: untyped failure ${String(err)} for input ${JSON.stringify(input.toString('latin1'))}`,
        );
      }
      expect(err.line).toBeGreaterThanOrEqual(1);
      rejected++;
    }
  }
  // Both outcomes must actually occur, or the mutations are not reaching the parser's error paths.
  expect(accepted).toBeGreaterThan(ITERATIONS / 10);
  expect(rejected).toBeGreaterThan(10);
});
