/**
 * `keyStep`, the one place a key is made, without a build: what a step reads from elsewhere (the stage or image a
 * `COPY --from` or `RUN --mount from=` names, the context files a COPY or a context bind mount shows) changes its
 * key, and what it does not read does not. The keying environment is a plain object standing in for the solver's
 * (its source keys and file rows are the inputs under test); the steps come from the real parser and planner.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ContextEntry } from '../../src/context';
import type { FileInput } from '../../src/cache/step-key';
import { DockerfileText } from '../../src/executor/dockerfile-text';
import type { CopyPlan } from '../../src/executor/ops/copy/plan-copy';
import { sourceFromEntries } from '../../src/executor/ops/copy/source-fs';
import { keyParent, keyStep, stateKeyAfter, type KeyingEnv } from '../../src/executor/step-keyer';
import type { Step } from '../../src/planner';
import { canonicalJson } from '../../src/store/canonical-json';
import { sha256Digest, type Digest } from '../../src/store/digest';
import { tempDir } from '../helpers/build';
import { steps } from '../planner/helpers';

const PARENT = `sha256:${'a'.repeat(64)}`;
const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64' };

let dir: string;
let dockerfile: DockerfileText;
beforeAll(async () => {
  dir = await tempDir('step-keyer');
  await fsp.writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
  dockerfile = await DockerfileText.read(path.join(dir, 'Dockerfile'), 'Dockerfile');
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const file = (p: string, sha: string, mode = 0o644): ContextEntry => ({
  path: p,
  type: 'file',
  mode,
  uid: 1000,
  gid: 1000,
  size: 1,
  sha256: sha.repeat(64),
});
const folder = (p: string): ContextEntry => ({ path: p, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 });

interface World {
  /** The key each `--from` name stands for. */
  sources?: Record<string, string>;
  /** The build context. */
  context?: ContextEntry[];
  /** The rows a context COPY's plan reads. */
  copyRows?: FileInput[];
}

function env(world: World): KeyingEnv {
  const context = world.context ?? [];
  return {
    dockerfile,
    sourceKey: (from) =>
      Promise.resolve(
        from.kind === 'image'
          ? `image:${from.normalized}`
          : (world.sources?.[String(from.kind === 'stage' ? from.index : 'scratch')] ?? 'none'),
      ),
    planCopy: (): Promise<CopyPlan> =>
      Promise.resolve({ entries: [], inputs: world.copyRows ?? [], temporary: [] }),
    contextSource: () => Promise.resolve(sourceFromEntries('/ctx', context, true, 'build context')),
    putListing: (files) => Promise.resolve(sha256Digest(canonicalJson(files))),
  };
}

function lastStep(text: string): Step {
  const list = steps(text);
  const step = list[list.length - 1];
  if (step === undefined) throw new Error('no step');
  return step;
}

async function keyOf(text: string, world: World = {}): Promise<string> {
  return (await keyStep(lastStep(text), PARENT, env(world))).key;
}

const TWO_STAGES = 'FROM scratch AS data\nCOPY x /x\nFROM scratch\n';

describe('keyStep: what a step reads from elsewhere', () => {
  it('RUN --mount from= is keyed by the source stage’s key, and by which target it is mounted at', async () => {
    const run = `${TWO_STAGES}RUN --mount=type=bind,from=data,target=/d cat /d/x\n`;
    const before = await keyOf(run, { sources: { '0': 'key-1' } });
    expect(await keyOf(run, { sources: { '0': 'key-1' } })).toBe(before);
    expect(await keyOf(run, { sources: { '0': 'key-2' } })).not.toBe(before);
    const elsewhere = `${TWO_STAGES}RUN --mount=type=bind,from=data,target=/e cat /d/x\n`;
    expect(await keyOf(elsewhere, { sources: { '0': 'key-1' } })).not.toBe(before);
  });

  it('a context bind mount is keyed by the rows of the files it shows, and only those', async () => {
    const run = 'FROM scratch\nRUN --mount=type=bind,source=app,target=/src ls /src\n';
    const context = [folder('app'), file('app/main.c', 'a'), file('docs.md', 'd')];
    const before = await keyOf(run, { context });
    const edited = [folder('app'), file('app/main.c', 'b'), file('docs.md', 'd')];
    expect(await keyOf(run, { context: edited })).not.toBe(before);
    const chmodded = [folder('app'), file('app/main.c', 'a', 0o755), file('docs.md', 'd')];
    expect(await keyOf(run, { context: chmodded })).not.toBe(before);
    const added = [folder('app'), file('app/main.c', 'a'), file('app/new.c', 'n'), file('docs.md', 'd')];
    expect(await keyOf(run, { context: added })).not.toBe(before);
    const outside = [folder('app'), file('app/main.c', 'a'), file('docs.md', 'e')];
    expect(await keyOf(run, { context: outside })).toBe(before);
  });

  it('a context bind mount shows files as 0:0, so their owner on disk is not in the key (buildx resets it)', async () => {
    const run = 'FROM scratch\nRUN --mount=type=bind,source=app,target=/src ls /src\n';
    const mine = [folder('app'), file('app/main.c', 'a')];
    const theirs = [folder('app'), { ...file('app/main.c', 'a'), uid: 0, gid: 0 }];
    expect(await keyOf(run, { context: mine })).toBe(await keyOf(run, { context: theirs }));
  });

  it('COPY --from is keyed by the source’s key (an image by its reference’s key)', async () => {
    const copy = `${TWO_STAGES}COPY --from=data /x /x\n`;
    const before = await keyOf(copy, { sources: { '0': 'key-1' } });
    expect(await keyOf(copy, { sources: { '0': 'key-2' } })).not.toBe(before);
    const fromImage = 'FROM scratch\nCOPY --from=busybox /bin/sh /sh\n';
    expect(await keyOf(fromImage)).not.toBe(await keyOf('FROM scratch\nCOPY --from=alpine /bin/sh /sh\n'));
  });

  it('a context COPY is keyed by the rows its plan read, and a RUN without mounts reads none', async () => {
    const row = (sha: string): FileInput => ['a.txt', 'file', 0o644, 0, 0, 1, '', sha.repeat(64)];
    const copy = 'FROM scratch\nCOPY a.txt /a.txt\n';
    expect(await keyOf(copy, { copyRows: [row('1')] })).not.toBe(await keyOf(copy, { copyRows: [row('2')] }));
    const run = 'FROM scratch\nRUN make\n';
    const keyed = await keyStep(lastStep(run), PARENT, env({ context: [file('a.txt', '1')] }));
    expect(keyed.inputs.filesDigest).toBeUndefined();
    expect(keyed.key).toBe(await keyOf(run, { context: [file('a.txt', '2')] }));
  });
});

describe('what a step stands on', () => {
  it('every filesystem step stands on the stage before it; a metadata step leaves the stage key as it was', () => {
    const run = lastStep('FROM scratch\nRUN make\n');
    const label = lastStep('FROM scratch\nLABEL a=b\n');
    const key: Digest = `sha256:${'b'.repeat(64)}`;
    expect(keyParent(run, PARENT, AMD64)).toBe(PARENT);
    expect(stateKeyAfter(run, PARENT, key)).toBe(key);
    expect(stateKeyAfter(label, PARENT, key)).toBe(PARENT);
  });

  it('a linked COPY stands on the platform: another platform is another key, another base is not', () => {
    const linked = lastStep('FROM scratch\nCOPY --link a /a\n');
    expect(keyParent(linked, PARENT, AMD64)).toBe(keyParent(linked, `sha256:${'c'.repeat(64)}`, AMD64));
    expect(keyParent(linked, PARENT, AMD64)).not.toBe(keyParent(linked, PARENT, ARM64));
  });
});
