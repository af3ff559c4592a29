/** The sandbox's inputs and outputs: plain data, resolved by the caller (see `mounts.ts` for RUN --mount). */
import type { Isolation, SandboxRuntime } from './runtime';

export type NetworkMode = 'default' | 'none' | 'host';

/** A mount as the sandbox takes it: host sources already chosen, contents already known. */
export type SandboxMount =
  | {
      type: 'bind';
      /** Absolute host path (a directory or a file). */
      source: string;
      /** Absolute path in the container. */
      target: string;
      readOnly: boolean;
      /**
       * The source belongs to tsbuild (a cache dir), so mount points for mounts nested inside it may be created
       * in it. Any other source (the build context, a stage's rootfs) is never written: a nested target must exist.
       */
      owned?: boolean;
    }
  | { type: 'tmpfs'; target: string; size?: number }
  /**
   * A read-only file with the given content (secrets, heredoc scripts): kept in memory-backed scratch space and
   * mounted, never written into the rootfs.
   */
  | { type: 'file'; target: string; content: Buffer; mode: number; uid: number; gid: number };

export interface SandboxOptions {
  /** The root filesystem (an overlay merged dir, or a copy). */
  rootfs: string;
  argv: string[];
  /** `KEY=value` strings, exactly the command's environment (HOME is added when missing). */
  env: string[];
  /** USER: `name`, `uid`, `name:group`, `uid:gid` …; empty for root. */
  user: string;
  /** Absolute working directory, created (owned by the user) if missing. */
  workdir: string;
  /** `default` is host, as buildah's chroot isolation and `docker build` default to. */
  network: NetworkMode;
  isolation: Isolation;
  /** A runtime chosen beforehand with `selectRuntime` (then `isolation` is not looked at). */
  runtime?: SandboxRuntime;
  mounts: SandboxMount[];
  /** /etc/hosts content (default: localhost and the hostname). */
  hosts?: string;
  /** /etc/resolv.conf content (default: the host's). */
  resolvConf?: string;
  /** Default `buildkitsandbox`. */
  hostname?: string;
  /** A host directory the sandbox may use for its own state (outside the rootfs); emptied and removed after. */
  scratch: string;
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  /** Abort kills the command and everything it started. */
  signal?: AbortSignal;
}

export interface SandboxResult {
  /** The command's exit code; 128+N when killed by signal N. */
  exitCode: number;
  /** What ran it. */
  runtime: 'runc' | 'crun';
}
