/** Errors raised while writing, reading or applying layer tars. */
import { BuildError } from '../errors';

/** The list of entries handed to the tar writer cannot make a valid layer (duplicate path, bad name …). */
export class LayerEntryError extends BuildError {}

/** A layer tar is malformed or truncated, or uses a tar feature we do not read (sparse files). */
export class LayerFormatError extends BuildError {}

/**
 * A layer tries to write outside the directory it is applied to: a `..` path, a hardlink to outside, or
 * a path through a symlink. The layer is refused rather than "fixed", because it was made to attack.
 */
export class UnsafeLayerError extends BuildError {
  constructor(
    readonly entryPath: string,
    reason: string,
  ) {
    super(`refusing layer entry ${JSON.stringify(entryPath)}: ${reason}`);
  }
}
