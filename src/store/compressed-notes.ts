/**
 * Which compressed blob a layer kept as its snapshot was compressed into, per compression: one small note per
 * diff_id and kind, `compressed/<diff_id hex>.<gzip|zstd>.json` holding `{ digest, size }`. Written by the exporter
 * (`image/export-layers.ts`) so a layer is compressed once; read by the inventory, so prune keeps such a blob with
 * its layer. A note is only a hint: its blob may be gone (pruned), and a damaged note reads as none.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, isErrno, readdirOrEmpty } from './atomic';
import type { Compression } from './compression';
import { digestHex, isDigest, type Digest } from './digest';

export interface CompressedBlob {
  digest: Digest;
  size: number;
}

const NOTE_NAME = /^([0-9a-f]{64})\.(gzip|zstd)\.json$/;

function notesDir(root: string): string {
  return path.join(root, 'compressed');
}

function notePath(root: string, diffId: Digest, compression: Compression): string {
  return path.join(notesDir(root), `${digestHex(diffId)}.${compression}.json`);
}

export async function readCompressedNote(
  root: string,
  diffId: Digest,
  compression: Compression,
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
  compression: Compression,
  blob: CompressedBlob,
): Promise<void> {
  await fsp.mkdir(notesDir(root), { recursive: true });
  await atomicWriteFile(notePath(root, diffId, compression), JSON.stringify(blob));
}

/** Every note's compressed blob digest, with the diff_id it holds. */
export async function listCompressedNotes(root: string): Promise<Map<Digest, Digest>> {
  const out = new Map<Digest, Digest>();
  for (const n of await readNotes(root)) out.set(n.note.digest, n.diffId);
  return out;
}

/** Remove the notes that name one of `blobs` as their compressed blob (the collector's, for blobs gone). */
export async function removeCompressedNotes(root: string, blobs: ReadonlySet<Digest>): Promise<void> {
  for (const n of await readNotes(root)) if (blobs.has(n.note.digest)) await fsp.rm(n.file, { force: true });
}

/** The readable notes, with their files and the diff_id each is named by. */
async function readNotes(root: string): Promise<{ file: string; diffId: Digest; note: CompressedBlob }[]> {
  const out: { file: string; diffId: Digest; note: CompressedBlob }[] = [];
  for (const name of await readdirOrEmpty(notesDir(root))) {
    const m = NOTE_NAME.exec(name);
    if (!m) continue;
    const file = path.join(notesDir(root), name);
    const note = await fsp
      .readFile(file, 'utf8')
      .then(parseNote)
      .catch(() => undefined); // a note that vanished names nothing
    if (note !== undefined) out.push({ file, diffId: `sha256:${m[1]}`, note });
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
