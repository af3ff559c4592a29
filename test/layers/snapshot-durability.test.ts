import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import { digestHex, type Digest } from '../../src/store/digest';
import { currentBootId } from '../../src/store/process';
import { treeBytes } from '../../src/cache/inventory';
import { recordedSnapshotSize, snapshotPresent, unsyncedNotesDir } from '../../src/store/snapshot-layers';
import { diffUpperDir } from '../../src/layers/diff';
import { recoverUnsyncedSnapshots, settleUnsyncedSnapshots } from '../../src/layers/snapshot-durability';
import { commitUpperDir, ensureSnapshot, snapshotPath } from '../../src/layers/snapshots';
import { storeTree, tempDir } from '../executor/sandbox/support/fixtures';

const EARLIER_BOOT = '00000000-0000-4000-8000-000000000000';

let root: string;

beforeEach(async () => {
  root = await tempDir('durable');
  await new BlobStore(root).init();
});

afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

/** A RUN's upper dir, committed as a snapshot the way a build does it. */
async function committedSnapshot(files: Record<string, string>): Promise<Digest> {
  const upper = path.join(root, 'tmp', `upper-${Object.keys(files).join('-')}`);
  await fsp.mkdir(upper, { recursive: true });
  for (const [name, body] of Object.entries(files)) await fsp.writeFile(path.join(upper, name), body);
  const committed = await commitUpperDir(root, upper, await diffUpperDir(upper));
  return committed.diffId;
}

/** Pretend the notes of this boot were left by an earlier one (the machine restarted since). */
async function restart(): Promise<void> {
  const boot = currentBootId() ?? '';
  await fsp.rename(path.join(unsyncedNotesDir(root), boot), path.join(unsyncedNotesDir(root), EARLIER_BOOT));
}

function notes(boot: string): Promise<string[]> {
  return fsp.readdir(path.join(unsyncedNotesDir(root), boot)).catch(() => []);
}

test('a new snapshot is noted as unsynced in this boot, and nothing is checked while the boot lasts', async () => {
  const boot = currentBootId();
  expect(boot).toBeDefined();
  const diffId = await committedSnapshot({ a: 'alpha' });
  expect(await notes(boot ?? '')).toEqual([`${digestHex(diffId)}.committed`]);
  expect(await recoverUnsyncedSnapshots(root)).toEqual({ kept: 0, dropped: 0 });
  expect(await snapshotPresent(root, diffId)).toBe(true);
});

test('after a restart, a whole committed snapshot is kept and a torn one is removed', async () => {
  const whole = await committedSnapshot({ w: 'whole file' });
  const torn = await committedSnapshot({ t: 'this file loses its data in the crash' });
  // What ext4 can leave after a power cut: the name survived, the data did not.
  await fsp.truncate(path.join(snapshotPath(root, torn), 't'), 0);
  await restart();

  expect(await recoverUnsyncedSnapshots(root)).toEqual({ kept: 1, dropped: 1 });
  expect(await snapshotPresent(root, whole)).toBe(true);
  expect(await snapshotPresent(root, torn)).toBe(false);
  expect(await fsp.readdir(unsyncedNotesDir(root))).toEqual([]);
  // Checked once: the next build finds nothing left to check.
  expect(await recoverUnsyncedSnapshots(root)).toEqual({ kept: 0, dropped: 0 });
});

test('after a restart, an unpacked snapshot is dropped and unpacked again from its blob', async () => {
  const blobs = new BlobStore(root);
  const src = await tempDir('durable-src');
  await fsp.writeFile(path.join(src, 'f'), 'from a blob');
  const layer = await storeTree(blobs, src);
  await fsp.rm(src, { recursive: true, force: true });
  const dir = await ensureSnapshot(root, blobs, layer);
  expect(await notes(currentBootId() ?? '')).toEqual([`${digestHex(layer.diffId)}.unpacked`]);
  await restart();

  expect(await recoverUnsyncedSnapshots(root)).toEqual({ kept: 0, dropped: 1 });
  expect(await snapshotPresent(root, layer.diffId)).toBe(false);
  expect(await ensureSnapshot(root, blobs, layer)).toBe(dir);
  expect(await fsp.readFile(path.join(dir, 'f'), 'utf8')).toBe('from a blob');
});

test('a note whose snapshot never got its name (killed before the rename) is just dropped', async () => {
  const diffId = await committedSnapshot({ k: 'killed' });
  await fsp.rm(snapshotPath(root, diffId), { recursive: true });
  await restart();
  expect(await recoverUnsyncedSnapshots(root)).toEqual({ kept: 0, dropped: 0 });
  expect(await fsp.readdir(unsyncedNotesDir(root))).toEqual([]);
});

test('settling flushes the store and forgets this boot’s notes; the snapshots stay', async () => {
  const diffId = await committedSnapshot({ s: 'settled' });
  await settleUnsyncedSnapshots(root);
  expect(await notes(currentBootId() ?? '')).toEqual([]);
  expect(await snapshotPresent(root, diffId)).toBe(true);
});

describe('the size a snapshot’s maker records is the size the inventory would measure', () => {
  async function tree(dir: string): Promise<void> {
    await fsp.mkdir(path.join(dir, 'd'), { recursive: true });
    await fsp.writeFile(path.join(dir, 'd', 'f'), 'x'.repeat(1234));
    await fsp.link(path.join(dir, 'd', 'f'), path.join(dir, 'hard'));
    await fsp.symlink('d/f', path.join(dir, 'link'));
    await fsp.writeFile(path.join(dir, 'empty'), '');
  }

  test('committed from an upper dir', async () => {
    const upper = path.join(root, 'tmp', 'upper-sized');
    await tree(upper);
    const { diffId } = await commitUpperDir(root, upper, await diffUpperDir(upper));
    const measured = await treeBytes(snapshotPath(root, diffId));
    expect(measured).toBe(1234 + 3);
    expect(await recordedSnapshotSize(root, digestHex(diffId))).toBe(measured);
  });

  test('unpacked from a blob', async () => {
    const blobs = new BlobStore(root);
    const src = await tempDir('durable-sized');
    await tree(src);
    const layer = await storeTree(blobs, src);
    await fsp.rm(src, { recursive: true, force: true });
    const dir = await ensureSnapshot(root, blobs, layer);
    expect(await recordedSnapshotSize(root, digestHex(layer.diffId))).toBe(await treeBytes(dir));
  });
});
