/**
 * The local image store: which names point at which manifests. It is one OCI index,
 * `<root>/images/index.json`, with one manifest descriptor per name, annotated with the full name
 * (`io.containerd.image.name`, as containerd does) and the tag (`org.opencontainers.image.ref.name`).
 * The blobs themselves live in the blob store.
 *
 * Updates are read-modify-write under an inter-process lock (`<root>/locks/images.lock`, safe against
 * SIGKILLed holders) and land by atomic rename, so concurrent builds tagging at once lose no tag, and a
 * reader never sees a torn file (readers take no lock).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, isErrno } from '../store/atomic';
import { withFileLock } from '../store/file-lock';
import { BuildError, UserError } from '../errors';
import {
  Annotation,
  MediaType,
  parseIndex,
  serializeIndex,
  type Descriptor,
  type ImageIndex,
} from './oci-types';
import { formatReference, parseDockerReference, repositoryName } from './reference';

export interface ImageRecord {
  /** Fully qualified name with tag: `docker.io/library/myapp:latest`. */
  name: string;
  /** The manifest (or index) descriptor, without the store's own name annotations. */
  target: Descriptor;
}

export class ImageStore {
  readonly indexPath: string;
  readonly lockPath: string;

  constructor(readonly root: string) {
    this.indexPath = path.join(root, 'images', 'index.json');
    this.lockPath = path.join(root, 'locks', 'images.lock');
  }

  /** All names, sorted. */
  async list(): Promise<ImageRecord[]> {
    return (await this.read()).manifests.map(toRecord);
  }

  /**
   * Find an image by name (`myapp`, `myapp:1.0`, `registry:5000/x/y:tag`), by name and digest
   * (`myapp@sha256:…`), or by bare digest (`sha256:…`). Undefined when nothing matches.
   */
  async resolve(reference: string): Promise<ImageRecord | undefined> {
    const records = await this.list();
    if (/^sha256:[a-f0-9]{64}$/.test(reference)) return records.find((r) => r.target.digest === reference);
    const ref = parseDockerReference(reference);
    if (ref.digest !== undefined) {
      const repo = repositoryName(ref);
      return records.find((r) => r.target.digest === ref.digest && repositoryOf(r.name) === repo);
    }
    const name = formatReference(ref);
    return records.find((r) => r.name === name);
  }

  /** Point `reference` (normalised; default tag `latest`) at `target`, replacing what it pointed at. */
  async tag(reference: string, target: Descriptor): Promise<ImageRecord> {
    const name = tagName(reference);
    const tag = name.slice(name.lastIndexOf(':') + 1);
    const entry: Descriptor = {
      ...target,
      annotations: {
        ...target.annotations,
        [Annotation.containerdImageName]: name,
        [Annotation.refName]: tag,
      },
    };
    await this.update((manifests) => [...manifests.filter((m) => nameOf(m) !== name), entry]);
    return toRecord(entry);
  }

  /** Remove a name; returns whether it existed. The blobs stay until GC. */
  async untag(reference: string): Promise<boolean> {
    const name = tagName(reference);
    let found = false;
    await this.update((manifests) =>
      manifests.filter((m) => {
        const hit = nameOf(m) === name;
        found ||= hit;
        return !hit;
      }),
    );
    return found;
  }

  private async update(change: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
    await withFileLock(this.lockPath, async () => {
      const index = await this.read();
      const manifests = change(index.manifests).sort((a, b) => compare(nameOf(a), nameOf(b)));
      await fsp.mkdir(path.dirname(this.indexPath), { recursive: true });
      await atomicWriteFile(this.indexPath, serializeIndex({ ...index, manifests }));
    });
  }

  private async read(): Promise<ImageIndex> {
    let data: Buffer;
    try {
      data = await fsp.readFile(this.indexPath);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
      throw err;
    }
    try {
      return parseIndex(data);
    } catch (err) {
      throw new BuildError(`the image store index ${this.indexPath} is damaged: ${(err as Error).message}`);
    }
  }
}

function tagName(reference: string): string {
  const ref = parseDockerReference(reference);
  if (ref.digest !== undefined)
    throw new UserError(`refusing to create a tag with a digest reference: ${reference}`);
  return formatReference(ref);
}

function nameOf(d: Descriptor): string {
  return d.annotations?.[Annotation.containerdImageName] ?? '';
}

function repositoryOf(name: string): string {
  return name.slice(0, name.lastIndexOf(':'));
}

function toRecord(d: Descriptor): ImageRecord {
  const { annotations, ...target } = d;
  const ours: string[] = [Annotation.containerdImageName, Annotation.refName];
  const rest = Object.fromEntries(Object.entries(annotations ?? {}).filter(([k]) => !ours.includes(k)));
  return {
    name: nameOf(d),
    target: Object.keys(rest).length > 0 ? { ...target, annotations: rest } : target,
  };
}

function compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
