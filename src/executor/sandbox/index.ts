/** Running a command in an isolated rootfs: the sandbox itself, RUN --mount resolution, and a whole RUN step. */
export { runInSandbox } from './sandbox';
export type { NetworkMode, SandboxMount, SandboxOptions, SandboxResult } from './types';
export { selectRuntime, SandboxUnavailableError, type Isolation, type SandboxRuntime } from './runtime';
export { resolveRunMounts, type MountSources, type ResolvedMounts } from './mounts';
export { acquireCacheDir, cacheMountsDir, type CacheDir, type CacheDirRequest } from './cache-mounts';
export { resolveUser, type ExecUser } from './user';
export { runStep, RunFailedError, type RunStepOptions, type RunStepResult } from './run-step';
