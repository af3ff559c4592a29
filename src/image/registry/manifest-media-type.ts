/**
 * Which manifests the client takes and what kind a fetched one is: the media types sent as `Accept`, Docker
 * schema 1 refused with a clear error, and a manifest's media type read from the response header when it is
 * one we know, else from the JSON (its `mediaType`, or failing that its shape, as the OCI spec allows).
 */
import { MediaType, declaredMediaType } from '../oci-types';
import { RegistryError } from './errors';

export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
];
export const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');
const SCHEMA1_MEDIA_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/** The media type of a fetched manifest: the header when it is one we know, else what the JSON says. */
export function manifestMediaType(fromHeader: string | undefined, bytes: Buffer, name: string): string {
  let declared: string | undefined;
  let shape: { manifests?: unknown; config?: unknown; schemaVersion?: unknown } = {};
  try {
    declared = declaredMediaType(bytes);
    shape = JSON.parse(bytes.toString('utf8')) as typeof shape;
  } catch {
    throw new RegistryError(`manifest ${name}: the registry sent something that is not JSON`);
  }
  const type = fromHeader !== undefined && MANIFEST_MEDIA_TYPES.includes(fromHeader) ? fromHeader : declared;
  if ((type !== undefined && SCHEMA1_MEDIA_TYPES.has(type)) || shape.schemaVersion === 1) {
    throw new RegistryError(
      `manifest ${name} is a Docker schema 1 manifest, which is deprecated and not supported`,
    );
  }
  if (type !== undefined && MANIFEST_MEDIA_TYPES.includes(type)) return type;
  // No usable media type anywhere: the OCI spec lets a manifest omit it; its shape tells.
  if (Array.isArray(shape.manifests)) return MediaType.ociIndex;
  if (typeof shape.config === 'object' && shape.config !== null) return MediaType.ociManifest;
  throw new RegistryError(`manifest ${name} has unsupported media type ${type ?? fromHeader ?? '(none)'}`);
}
