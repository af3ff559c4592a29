/** What an archive reader finds: images, each with the names the archive gives it. */
import type { Descriptor } from '../oci-types';

export interface ArchiveImage {
  /** The image's manifest (or index) descriptor; its blobs are in the store. */
  manifest: Descriptor;
  /** Fully qualified `name:tag`s from the archive; empty when it names the image no usable way. */
  names: string[];
  /** An OCI ref name that is only a tag (`latest`), kept to explain why the image is unnamed. */
  refName?: string;
}

export type ArchiveFormat = 'oci' | 'docker';
