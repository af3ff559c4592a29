/**
 * ADD of a local archive: a tar (plain, gzip, zstd, bzip2 or xz) is unpacked at the destination instead of being
 * copied, as `docker build` does. Anything else, including a compressed file that is not a tar, is copied as is.
 * The archive is unpacked with the safe layer applier into a temp directory that then serves as a copy source.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { BuildError } from '../../../errors';
import { applyLayer } from '../../../layers/apply';
import { decompressLayer } from '../../../layers/compress';
import { sourceFromDirectory, type CopySourceFs } from './source-fs';

type ArchiveKind = 'tar' | 'gzip' | 'zstd' | 'bzip2' | 'xz';

async function head(file: string, bytes: number): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function isTarHeader(block: Buffer): boolean {
  return block.length >= 262 && block.subarray(257, 262).toString('latin1') === 'ustar';
}

function compressionOf(magic: Buffer): ArchiveKind | undefined {
  if (magic[0] === 0x1f && magic[1] === 0x8b) return 'gzip';
  if (magic.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  if (magic.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (magic.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return undefined;
}

/** The uncompressed stream of a file, through `bzip2 -dc` / `xz -dc` for the formats Node has no codec for. */
function uncompressed(file: string, kind: ArchiveKind): Readable {
  if (kind === 'bzip2' || kind === 'xz') {
    const tool = kind === 'bzip2' ? 'bzip2' : 'xz';
    const child = spawn(tool, ['-dc', file], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.on('error', (err) =>
      child.stdout.destroy(
        new BuildError(`ADD failed: cannot run ${tool} to unpack ${path.basename(file)}: ${err.message}`),
      ),
    );
    return child.stdout;
  }
  return decompressLayer(createReadStream(file));
}

/** Whether ADD unpacks this file: its (decompressed) start is a tar header. */
export async function archiveKind(file: string): Promise<ArchiveKind | undefined> {
  const magic = await head(file, 512);
  if (isTarHeader(magic)) return 'tar';
  const kind = compressionOf(magic);
  if (!kind) return undefined;
  const stream = uncompressed(file, kind);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= 512) break;
    }
  } catch {
    return undefined;
  } finally {
    stream.destroy();
  }
  return isTarHeader(Buffer.concat(chunks)) ? kind : undefined;
}

/** Unpacks the archive into a fresh directory under `tmpDir`; the caller removes it when done. */
export async function unpackArchive(file: string, kind: ArchiveKind, tmpDir: string): Promise<CopySourceFs> {
  const dir = path.join(tmpDir, `add-${randomBytes(6).toString('hex')}`);
  await fsp.mkdir(dir, { recursive: true });
  const stream = kind === 'tar' ? createReadStream(file) : uncompressed(file, kind);
  await applyLayer(stream, dir);
  return sourceFromDirectory(dir, `archive ${path.basename(file)}`);
}
