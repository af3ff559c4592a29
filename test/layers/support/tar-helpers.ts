/** Test helpers: collect streams, hash, craft raw (possibly malicious) tars, and list tars with GNU tar. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { encodeHeader, endOfArchive, padding, type HeaderFields } from '../../../src/layers/tar-header';
import { readTar, type TarEntryHeader } from '../../../src/layers/tar-reader';

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

export function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface RawMember {
  header: Partial<HeaderFields> & { name: string };
  data?: Buffer;
}

/** A tar built header by header with no validation at all: the way an attacker would build one. */
export function rawTar(members: RawMember[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const data = m.data ?? Buffer.alloc(0);
    const h: HeaderFields = {
      typeflag: '0',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: 0,
      linkname: '',
      devmajor: 0,
      devminor: 0,
      ...m.header,
      size: data.length,
    };
    parts.push(encodeHeader(h), data, Buffer.alloc(padding(data.length)));
  }
  parts.push(endOfArchive());
  return Buffer.concat(parts);
}

export async function* once(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

export interface ReadMember {
  header: TarEntryHeader;
  data: Buffer;
}

export async function readAll(tar: Buffer): Promise<ReadMember[]> {
  const out: ReadMember[] = [];
  for await (const { header, body } of readTar(once(tar))) out.push({ header, data: await collect(body) });
  return out;
}

/** `tar -tvf` by GNU tar with numeric owners: an independent reader of what we wrote. */
export function gnuTarList(tarPath: string): string[] {
  return execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', tarPath], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' },
  })
    .trimEnd()
    .split('\n');
}
