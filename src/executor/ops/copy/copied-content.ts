/**
 * What a `COPY --from` puts in its layer, as content: one row per entry (path, type, mode, owner, size, link target
 * and the sha256 of a file's bytes), never times. BuildKit keys such a copy by this too once the source has been
 * built, so a builder stage that changed but produced the same files still reuses the layer (and every step after
 * it).
 */
import { createHash } from 'node:crypto';
import type { FileInput } from '../../../cache/step-key';
import { hashFile } from '../../../context';
import { mapLimit } from '../../../store/map-limit';
import type { CopyEntry } from './plan-copy';

/** Files hashed at once: reading is what costs, and two cores share it. */
const HASH_PARALLEL = 4;

export async function copiedContent(entries: readonly CopyEntry[]): Promise<FileInput[]> {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return mapLimit(sorted, HASH_PARALLEL, async (e): Promise<FileInput> => {
    const sha256 =
      e.type !== 'file'
        ? ''
        : e.content !== undefined
          ? createHash('sha256').update(e.content).digest('hex')
          : e.sourcePath !== undefined
            ? (await hashFile(e.sourcePath)).sha256
            : '';
    return [e.path, e.type, e.mode, e.uid, e.gid, e.size, e.linkTarget ?? '', sha256];
  });
}
