/** Running a command in an isolated rootfs: the sandbox itself, its runtimes, cache dirs and users. */
export { runInSandbox } from './sandbox';
export type { NetworkMode, SandboxMount, SandboxOptions, SandboxResult } from './types';
export { selectRuntime, SandboxUnavailableError, type Isolation, type SandboxRuntime } from './runtime';
export { acquireCacheDir, cacheMountsDir, type CacheDir, type CacheDirRequest } from './cache-mounts';
export { resolveUser, type ExecUser } from './user';
