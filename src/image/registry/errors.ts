/**
 * What can go wrong talking to a registry, as one-line messages that name the registry and the reference.
 * Network trouble and registry hiccups (5xx, 429, resets) are `retryable`: the client retries those with
 * backoff and only shows the last one; anything else is final at once.
 */
import { BuildError, UserError } from '../../errors';

export class RegistryError extends BuildError {
  /** Whether trying the same operation again may succeed. */
  readonly retryable: boolean;
  /** How long the registry asked us to wait (`Retry-After`), when it said. */
  readonly retryAfterMs?: number;

  constructor(message: string, options: { retryable?: boolean; retryAfterMs?: number } = {}) {
    super(message);
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The registry wants credentials we do not have, or refused the ones we sent. */
export class RegistryAuthError extends RegistryError {
  constructor(
    readonly registry: string,
    serverMessage: string,
  ) {
    super(`authentication required for ${registry}: ${serverMessage}`);
  }
}

/** No manifest under that tag or digest (or no such repository). */
export class ManifestUnknownError extends RegistryError {
  constructor(readonly reference: string) {
    super(`manifest unknown: ${reference}`);
  }
}

/** A docker config file (or a credential helper's answer) we cannot use: the user has to fix it. */
export class CredentialConfigError extends UserError {}
