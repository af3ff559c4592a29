/** Build cache export and import (`--cache-to`, `--cache-from`): the format, where it lives, and its backends. */
export * from './format';
export * from './types';
export * from './errors';
export * from './cache-spec';
export * from './local-layout';
export * from './registry-cache';
