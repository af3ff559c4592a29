/**
 * Which compressed blob a layer kept as its snapshot was compressed into, per compression: one small note per
 * diff_id and kind, `compressed/<diff_id hex>.<gzip|zstd>.json` holding `{ digest, size }`. Written by the exporter
 * (`image/export-layers.ts`) so a layer is compressed once; read by the inventory, so prune keeps such a blob with
 * its layer. A note is only a hint: its blob may be gone (pruned), and a damaged note reads as none.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, isErrno } from './atomic';
import { digestHex, isDigest, type Digest } from './digest';

export type NoteCompression = 'gzip' | 'zstd';

export interface CompressedBlob {
  digest: Digest;
  size: number;
}

const NOTE_NAME = /^([0-9a-f]{64})\.(gzip|zstd)\.json$/;

function notesDir(root: string): string {
  return path.join(root, 'compressed');
}

function notePath(root: string, diffId: Digest, compression: NoteCompression): string {
  return path.join(notesDir(root), `${digestHex(diffId)}.${compression}.json`);
}

export async function readCompressedNote(
  root: string,
  diffId: Digest,
  compression: NoteCompression,
): Promise<CompressedBlob | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(notePath(root, diffId, compression), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  return parseNote(text);
}

export async function writeCompressedNote(
  root: string,
  diffId: Digest,
  compression: NoteCompression,
  blob: CompressedBlob,
): Promise<void> {
  await fsp.mkdir(notesDir(root), { recursive: true });
  await atomicWriteFile(notePath(root, diffId, compression), JSON.stringify(blob));
}

/** Every note's compressed blob digest, with the diff_id it holds. */
export async function listCompressedNotes(root: string): Promise<Map<Digest, Digest>> {
  const out = new Map<Digest, Digest>();
  let names: string[];
  try {
    names = await fsp.readdir(notesDir(root));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return out;
    throw err;
  }
  for (const name of names) {
    const m = NOTE_NAME.exec(name);
    if (!m) continue;
    const note = await fsp
      .readFile(path.join(notesDir(root), name), 'utf8')
      .then(parseNote)
      .catch(() => undefined); // a note that vanished keeps nothing alive
    if (note !== undefined) out.set(note.digest, `sha256:${m[1]}`);
  }
  return out;
}

function parseNote(text: string): CompressedBlob | undefined {
  try {
    const v = JSON.parse(text) as { digest?: unknown; size?: unknown };
    if (typeof v.digest === 'string' && isDigest(v.digest) && typeof v.size === 'number') {
      return { digest: v.digest, size: v.size };
    }
  } catch {
    // a damaged note is no note
  }
  return undefined;
}

/** Remove the notes that name one of `blobs` as their compressed blob (the collector's, for blobs gone). */
export async function removeCompressedNotes(root: string, blobs: ReadonlySet<Digest>): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(notesDir(root));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  for (const name of names) {
    if (!NOTE_NAME.test(name)) continue;
    const file = path.join(notesDir(root), name);
    const note = await fsp
      .readFile(file, 'utf8')
      .then(parseNote)
      .catch(() => undefined);
    if (note !== undefined && blobs.has(note.digest)) await fsp.rm(file, { force: true });
  }
}
