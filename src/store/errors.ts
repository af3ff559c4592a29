/**
 * Errors raised by the content store. They subclass the shared typed errors so the CLI prints them as one
 * line with the right exit code, and so callers can tell "the store is damaged" from "the input was bad".
 */
import { BuildError, UserError } from '../errors';

/** A string that should have been `sha256:<64 hex>` was not; it came from user input or a manifest. */
export class InvalidDigestError extends UserError {
  constructor(readonly digest: string) {
    super(`invalid digest ${JSON.stringify(digest)}: expected sha256:<64 lowercase hex digits>`);
  }
}

/** The store has no blob with this digest. */
export class BlobNotFoundError extends BuildError {
  constructor(readonly digest: string) {
    super(`blob ${digest} not found in the content store`);
  }
}

/**
 * A blob on disk does not hash to its own name: the disk or someone editing the store damaged it. The blob
 * is left in place so `tsbuild cache check` can report and remove it; the read that found it fails.
 */
export class CorruptBlobError extends BuildError {
  constructor(
    readonly digest: string,
    readonly actual: string,
    readonly path: string,
  ) {
    super(`blob ${digest} is corrupt: its content hashes to ${actual} (${path}); remove it and rebuild`);
  }
}

/** Content handed to the store did not match the digest (or size) the caller said it would have. */
export class DigestMismatchError extends BuildError {
  constructor(
    readonly expected: string,
    readonly actual: string,
    what = 'content',
  ) {
    super(`${what} digest mismatch: expected ${expected}, got ${actual}`);
  }
}

/** Someone else holds a lock and did not let go in time. */
export class LockTimeoutError extends BuildError {
  constructor(
    readonly lockPath: string,
    readonly holder: string,
  ) {
    super(`timed out waiting for lock ${lockPath} (held by ${holder})`);
  }
}
