/** Errors of cache export and import: a cache that is not ours or is damaged, a destination we cannot use. */
import { BuildError } from '../../errors';

/** What `--cache-from` points at is not a readable tsbuild cache (or its config is damaged). */
export class CacheFormatError extends BuildError {}
