/**
 * Where a pulled layer's compressed blob can be fetched again: one small note per blob,
 * `origins/<blob hex>.json` holding `{ registry, repository }`, written by pull for every layer it stores. Once such
 * a layer is unpacked, its snapshot is the copy builds read, and the collector drops the compressed blob (as
 * docker keeps only the unpacked layer): the store holds one copy of the layer. An output that needs the blob's
 * bytes again (a push to another registry, `--output type=oci|docker`, `save`) fetches it from its origin, verified
 * against its digest (`image/registry/origin-fetch.ts`), as BuildKit fetches its lazy base layers.
 *
 * A note is only a hint: its registry may be gone (then the output fails saying so), and a damaged note reads as
 * none, which keeps the blob.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, readdirOrEmpty, readFileOrUndefined } from './atomic';
import { digestHex, type Digest } from './digest';

export interface BlobOrigin {
  /** The registry host (with port) the blob was pulled from. */
  registry: string;
  /** The repository path on that registry. */
  repository: string;
}

const NOTE_NAME = /^([0-9a-f]{64})\.json$/;

function notesDir(root: string): string {
  return path.join(root, 'origins');
}

function notePath(root: string, digest: Digest): string {
  return path.join(notesDir(root), `${digestHex(digest)}.json`);
}

export async function readBlobOrigin(root: string, digest: Digest): Promise<BlobOrigin | undefined> {
  const text = await readFileOrUndefined(notePath(root, digest));
  return text === undefined ? undefined : parseNote(text.toString('utf8'));
}

/** Remember where `digest` came from; an existing note is kept (the first origin is as good as any). */
export async function writeBlobOrigin(root: string, digest: Digest, origin: BlobOrigin): Promise<void> {
  if ((await readBlobOrigin(root, digest)) !== undefined) return;
  await fsp.mkdir(notesDir(root), { recursive: true });
  await atomicWriteFile(notePath(root, digest), JSON.stringify(origin));
}

/** The blobs that have a readable origin note. */
export async function listBlobOrigins(root: string): Promise<Set<Digest>> {
  const out = new Set<Digest>();
  for (const name of await readdirOrEmpty(notesDir(root))) {
    const m = NOTE_NAME.exec(name);
    if (!m) continue;
    const note = await fsp
      .readFile(path.join(notesDir(root), name), 'utf8')
      .then(parseNote)
      .catch(() => undefined); // a note that vanished names no origin
    if (note !== undefined) out.add(`sha256:${m[1]}`);
  }
  return out;
}

function parseNote(text: string): BlobOrigin | undefined {
  try {
    const v = JSON.parse(text) as { registry?: unknown; repository?: unknown };
    if (typeof v.registry === 'string' && v.registry !== '' && typeof v.repository === 'string') {
      return { registry: v.registry, repository: v.repository };
    }
  } catch {
    // a damaged note is no note
  }
  return undefined;
}

/** Remove the notes of `digests` (the collector's, for blobs gone that nothing names). */
export async function removeBlobOrigins(root: string, digests: ReadonlySet<Digest>): Promise<void> {
  for (const d of digests) await fsp.rm(notePath(root, d), { force: true });
}
