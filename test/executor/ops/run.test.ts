import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../../src/store/blob-store';
import { DigestTap, type Digest } from '../../../src/store/digest';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { contextEntries } from '../../../src/context';
import { materializeContextMount } from '../../../src/executor/ops/context-mount';
import { sourceFromEntries } from '../../../src/executor/ops/copy/source-fs';
import { RunFailedError, runStep, type RunStepOptions } from '../../../src/executor/ops/run';
import { BuildError } from '../../../src/errors';
import { storeLayer } from '../../../src/layers/compress';
import { diffUpperDir } from '../../../src/layers/diff';
import {
  commitUpperDir,
  ensureSnapshots,
  snapshotLayerTar,
  snapshotPath,
} from '../../../src/layers/snapshots';
import { unpackInto } from '../../../src/layers/snapshot-unpack';
import { readTar } from '../../../src/layers/tar-reader';
import { decompressLayer } from '../../../src/layers/compress';
import { createLayerTar, type LayerEntry } from '../../../src/layers/tar-writer';
import type { RunStep } from '../../../src/planner/types';
import { steps } from '../../planner/helpers';
import { makeBusyboxRootfs, mountsUnder, requireRoot, storeTree, tempDir } from '../sandbox/support/fixtures';
import { entryLines } from '../sandbox/support/harness';

requireRoot();

let root: string;
let blobs: BlobStore;
let ctx: string;
let base: { digest: Digest; diffId: Digest };
let mountsBefore: string[];

beforeAll(async () => {
  root = await tempDir('runstep');
  blobs = new BlobStore(root);
  await blobs.init();
  const bb = path.join(root, 'busybox-src');
  await fsp.mkdir(bb);
  await makeBusyboxRootfs(bb);
  base = await storeTree(blobs, bb);
  ctx = path.join(root, 'context');
  await fsp.mkdir(ctx);
  await fsp.writeFile(path.join(ctx, 'package.json'), '{"name":"app"}');
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});
beforeEach(() => {
  mountsBefore = mountsUnder(root);
});
afterEach(async () => {
  expect(mountsUnder(root)).toEqual(mountsBefore);
  expect(await fsp.readdir(path.join(root, 'runs')).catch(() => [])).toEqual([]);
});

/** The RUN steps of a Dockerfile (FROM scratch: the busybox layer is given separately). */
function runSteps(dockerfile: string): RunStep[] {
  return steps(`FROM scratch\n${dockerfile}`).filter((s): s is RunStep => s.kind === 'run');
}

function options(step: RunStep, extra: Partial<RunStepOptions> = {}): RunStepOptions {
  return {
    root,
    blobs,
    layers: [base],
    step,
    contextMount: async (source, dest) => {
      const context = sourceFromEntries(ctx, await contextEntries(ctx), true, 'build context');
      await materializeContextMount(context, source, dest);
    },
    sourceDir: async () => {
      throw new Error('no stages in these tests');
    },
    location: { file: 'Dockerfile', line: step.line, text: step.original },
    ...extra,
  };
}

/** Run a step and return its entries as text, plus the stored layer's tar member names. */
async function run(
  step: RunStep,
  extra: Partial<RunStepOptions> = {},
): Promise<{ lines: string[]; tar: string[]; out: string; digest: Digest; diffId: Digest }> {
  let out = '';
  const { result } = await runStep(
    options(step, { onOutput: (c) => (out += c.toString()), ...extra }),
    async (entries: LayerEntry[]) => {
      const lines = await entryLines(entries);
      const stored = await storeLayer(createLayerTar(entries), blobs, { compression: 'gzip' });
      const tar: string[] = [];
      for await (const { header } of readTar(decompressLayer(blobs.open(stored.digest))))
        tar.push(header.path);
      return { lines, tar, digest: stored.digest, diffId: stored.diffId };
    },
  );
  return { ...result, out };
}

describe('runStep', () => {
  const isolation = 'oci';

  it('runs a RUN with the stage’s USER, WORKDIR and ENV and stores its change as a layer', async () => {
    const [step] = runSteps(
      'ENV GREETING=hello\nWORKDIR /app\nUSER user\nRUN echo "$GREETING $(id -un) $(pwd)" > out && ln -s out link && rm -f /nothing',
    );
    const r = await run(step as RunStep, { isolation });
    expect(r.lines).toEqual([
      'dir app 755 1000:1000',
      'symlink app/link 777 1000:1000 -> out',
      'file app/out 644 1000:1000 "hello user /app\\n"',
    ]);
    expect(r.tar).toEqual(['app', 'app/link', 'app/out']);
  });

  it('runs a #! heredoc from /dev/pipes, which stays out of the layer', async () => {
    const [step] = runSteps('RUN <<EOF\n#!/bin/sh\necho "from $0" > /heredoc\nEOF');
    const r = await run(step as RunStep, { isolation });
    expect(r.lines).toEqual(['file heredoc 644 0:0 "from /dev/pipes/EOF\\n"']);
  });

  it('fails with the exit code, the output and the Dockerfile line, leaving nothing behind', async () => {
    const [step] = runSteps('RUN echo "compiling…" && echo "error: boom" >&2 && exit 7');
    let err: unknown;
    try {
      await run(step as RunStep, { isolation });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RunFailedError);
    const failed = err as RunFailedError;
    expect(failed).toBeInstanceOf(BuildError);
    expect(failed.commandExitCode).toBe(7);
    expect(failed.outputTail).toContain('error: boom');
    expect(failed.format()).toMatch(
      /^Dockerfile:2: process "\/bin\/sh -c echo \\"compiling…\\" && echo \\"error: boom\\" >&2 && exit 7" did not complete successfully: exit code: 7/,
    );
  });

  it('keeps a cache mount between steps and out of both layers', async () => {
    const [first, second] = runSteps(
      'RUN --mount=type=cache,target=/root/.cache echo cached > /root/.cache/item\n' +
        'RUN --mount=type=cache,target=/root/.cache cp /root/.cache/item /copied',
    );
    expect((await run(first as RunStep, { isolation })).lines).toEqual([]);
    expect((await run(second as RunStep, { isolation })).lines).toEqual(['file copied 644 0:0 "cached\\n"']);
  });

  it('fills a new cache mount from the imported cache the build hands it', async () => {
    const id = `imported-${isolation}`;
    const [step] = runSteps(`RUN --mount=type=cache,id=${id},target=/c cp /c/item /copied`);
    const asked: string[] = [];
    const r = await run(step as RunStep, {
      isolation,
      restoreCacheMount: (cacheId) => {
        asked.push(cacheId);
        return (dir) => fsp.writeFile(path.join(dir, 'item'), 'restored');
      },
    });
    expect(asked).toEqual([id]);
    expect(r.lines).toEqual(['file copied 644 0:0 "restored"']);
  });

  it('binds the context read-only and gives a secret that ends up in no blob of the store', async () => {
    const secret = `secret-${isolation}-${Date.now()}`;
    const [step] = runSteps(
      'RUN --mount=type=bind,target=/ctx --mount=type=secret,id=tok --mount=type=secret,id=tok,env=TOK ' +
        'cat /ctx/package.json > /pkg && test "$(cat /run/secrets/tok)" = "$TOK" && touch /ctx/x 2>/dev/null || echo ok',
    );
    const r = await run(step as RunStep, { isolation, secrets: new Map([['tok', Buffer.from(secret)]]) });
    expect(r.out).toBe('ok\n');
    expect(r.lines).toEqual(['file pkg 644 0:0 "{\\"name\\":\\"app\\"}"']);
    expect(await grep(root, secret)).toEqual([]);
  });

  it.each([undefined, 1_600_000_000])(
    'makes its upper dir the layer’s snapshot (epoch %s): the same diff_id as the eager layer, its tar regenerated byte for byte',
    async (epoch) => {
      const [step] = runSteps(
        'RUN mkdir -p /opt/app && echo hi > /opt/app/hi && ln /opt/app/hi /opt/app/hard && rm /bin/ls && ' +
          'rm -rf /home && mkdir /home && echo x > /home/only && touch /bin',
      );
      const { result } = await runStep(options(step as RunStep, { isolation }), async (entries, upperDir) => {
        const eager = await storeLayer(createLayerTar(entries, { sourceDateEpoch: epoch }), blobs, {
          compression: 'gzip',
        });
        if (upperDir === undefined) throw new Error('expected an overlay rootfs');
        return { eager, committed: await commitUpperDir(root, upperDir, entries, epoch) };
      });
      const { eager, committed } = result;
      expect(committed.diffId).toBe(eager.diffId);
      expect(committed.size).toBe(eager.uncompressedSize);
      expect(committed.dir).toBe(snapshotPath(root, committed.diffId));
      const tap = new DigestTap();
      await pipeline(await snapshotLayerTar(root, committed.diffId), tap, new PassThrough().resume());
      expect(tap.digest()).toBe(committed.diffId);
      const unpacked = await tempDir('runstep-unpacked');
      try {
        await unpackInto(blobs, { digest: eager.digest, diffId: eager.diffId }, unpacked);
        const listing = async (dir: string): Promise<string[]> => entryLines(await diffUpperDir(dir));
        const fromRun = await listing(committed.dir);
        expect(fromRun).toEqual(await listing(unpacked));
        expect(fromRun).toContain('opaque home');
        expect(fromRun).toContain('whiteout bin/ls');
        expect(fromRun.some((l) => /resolv|hosts|hostname|^dir (proc|sys|dev)\b/.test(l))).toBe(false);
        // The next build finds it and unpacks nothing: the snapshot is the one this run made.
        expect(await ensureSnapshots(root, blobs, [eager])).toEqual([committed.dir]);
      } finally {
        await fsp.rm(unpacked, { recursive: true, force: true });
        await fsp.rm(committed.dir, { recursive: true, force: true });
      }
    },
  );

  it('takes the step’s --network over the build’s', async () => {
    const [none, dflt] = runSteps('RUN --network=none ls /sys/class/net\nRUN ls /sys/class/net');
    expect((await run(none as RunStep, { isolation, network: 'host', allowHostNetwork: true })).out).toBe(
      'lo\n',
    );
    expect((await run(dflt as RunStep, { isolation, network: 'none' })).out).toBe('lo\n');
    expect((await run(dflt as RunStep, { isolation })).out).not.toBe('lo\n');
  });
});

it('refuses host networking without the network.host entitlement, from the step or the build', async () => {
  const [own, dflt] = runSteps('RUN --network=host true\nRUN true');
  await expect(run(own as RunStep)).rejects.toThrow(
    'RUN --network=host needs the network.host entitlement: build with --allow network.host',
  );
  await expect(run(dflt as RunStep, { network: 'host' })).rejects.toThrow(
    /needs the network.host entitlement/,
  );
  expect((await run(own as RunStep, { allowHostNetwork: true })).out).toBe('');
});

it('refuses chroot isolation: it can be escaped', async () => {
  const [step] = runSteps('RUN true');
  await expect(run(step as RunStep, { isolation: 'chroot' })).rejects.toThrow(
    /isolation "chroot" is not offered/,
  );
});

it('refuses --security=insecure', async () => {
  const [step] = runSteps('RUN --security=insecure true');
  await expect(run(step as RunStep)).rejects.toThrow(/insecure is not allowed/);
});

async function grep(dir: string, needle: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && (await fsp.readFile(p)).includes(needle)) out.push(p);
    }
  };
  await walk(dir);
  return out;
}
