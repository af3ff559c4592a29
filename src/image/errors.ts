/** Errors about image references, manifests and configs. */
import { BuildError, UserError } from '../errors';

/** A malformed image reference (`-t`, `FROM`, `--cache-from`): the user typed it, so exit 2. */
export class InvalidReferenceError extends UserError {
  constructor(
    readonly reference: string,
    reason: string,
  ) {
    super(`invalid reference ${JSON.stringify(reference)}: ${reason}`);
  }
}

/** A manifest, index or config that is not valid JSON of the expected shape. */
export class ImageFormatError extends BuildError {}
