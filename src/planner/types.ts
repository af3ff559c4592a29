/**
 * The build plan: what the planner hands the executor. Every value here is already expanded the way BuildKit's
 * Dockerfile frontend expands it, so the executor never looks at Dockerfile text or variables again; what it
 * still has to do is resolve images, read the build context, run steps and write config and layers.
 *
 * All types are plain JSON-able data (no classes, no Maps), so a plan can be printed, diffed and stored next
 * to the cache records it explains.
 */

import type { Platform } from '../platform';

/** One name=value pair, in the order it was written or set. */
export interface KeyValue {
  key: string;
  value: string;
}

/** Where a stage or step comes from in the Dockerfile. */
export interface SourceSpan {
  /** 1-based first line. For an ONBUILD trigger: the line of the FROM of the stage that runs it. */
  line: number;
  /** 1-based last line (heredoc bodies included). */
  endLine: number;
  /** The instruction as written, continuations joined; for a trigger, the trigger text. */
  original: string;
}

/** What a stage starts from, or what `COPY --from` / `RUN --mount from=` reads. */
export type StageRef =
  | { kind: 'scratch' }
  /** An earlier stage, by index into `BuildPlan.stages`. */
  | { kind: 'stage'; index: number }
  /** A registry image: `ref` as written after expansion, `normalized` as BuildKit pulls it (`docker.io/library/alpine:latest`). */
  | { kind: 'image'; ref: string; normalized: string };

/** An ARG in scope: declared in the stage (or inherited from the parent stage), with its value when it has one. */
export interface ArgInScope {
  key: string;
  /** Undefined for `ARG NAME` with no default, no --build-arg and no global value. */
  value?: string;
}

/**
 * The state a step runs in (before the step itself takes effect). This is what a cache key needs besides the
 * step's own fields: for RUN, `env` is the effective environment.
 */
export interface StepContext {
  /**
   * The environment as BuildKit's build state holds it: the base image's `Env` (plus the default PATH when it has
   * none), then every ENV and every ARG with a value, in order; setting a name again moves it to the end.
   * Undeclared proxy build args are not here (see RunStep.proxyEnv).
   */
  env: KeyValue[];
  /** Every ARG in scope, in declaration order, each name once (its latest declaration). */
  args: ArgInScope[];
  /** Absolute working directory (`/` by default). */
  workdir: string;
  /** USER as written after expansion; empty means the image default (root). */
  user: string;
  /** The shell for shell-form commands (SHELL, the base image's, or `/bin/sh -c`). */
  shell: string[];
}

interface StepCommon extends SourceSpan {
  /** True for steps that come from an ONBUILD trigger of the base (image or stage). */
  fromOnBuild: boolean;
  /** The state the step runs in. */
  context: StepContext;
  /**
   * The image history `created_by` BuildKit writes for this step (RUN/COPY/ADD end in ` # buildkit`);
   * undefined for ONBUILD, which writes no history entry.
   */
  createdBy?: string;
}

/** RUN, CMD and ENTRYPOINT as written: exec form (JSON array) or shell form (one string). */
export type CommandLine = { form: 'exec'; args: string[] } | { form: 'shell'; script: string };

/** A heredoc body attached to RUN. */
export interface RunHeredoc {
  name: string;
  /** `3` for `3<<EOF`, else 0. */
  fileDescriptor: number;
  /** The body with `<<-` tab stripping applied. RUN bodies are never variable-expanded by BuildKit. */
  content: string;
  /** The body exactly as written. */
  rawContent: string;
  chomp: boolean;
  /** False when the delimiter was quoted (informational for RUN; the shell decides). */
  expand: boolean;
}

/** A file BuildKit creates for a RUN and mounts read-only (a single `#!` heredoc becomes `/dev/pipes/NAME`). */
export interface InlineFile {
  path: string;
  content: string;
  mode: number;
}

/** Where a mount's content comes from when it is not the build context. */
export type MountSource = StageRef;

interface MountCommon {
  /** Absolute target (relative targets are joined to the working directory). */
  target: string;
}

export interface BindMount extends MountCommon {
  type: 'bind';
  /** Undefined: the build context. */
  from?: MountSource;
  /** Path inside the source, `/`-rooted and cleaned. */
  source: string;
  readOnly: boolean;
}

export interface CacheMount extends MountCommon {
  type: 'cache';
  /** The cache id (`id=`, else the target as written, cleaned). Not part of a cache key. */
  id: string;
  sharing: 'shared' | 'private' | 'locked';
  /** Undefined: an empty directory. */
  from?: MountSource;
  source: string;
  readOnly: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
}

export interface TmpfsMount extends MountCommon {
  type: 'tmpfs';
  /** Bytes; undefined for no limit. */
  size?: number;
}

export interface SecretMount {
  type: 'secret';
  id: string;
  /** Absolute file path; undefined when only `env=` is used. */
  target?: string;
  /** Environment variable to put the secret in. */
  env?: string;
  required: boolean;
  mode: number;
  uid: number;
  gid: number;
}

export interface SshMount {
  type: 'ssh';
  id: string;
  /** Undefined: BuildKit's default socket path, chosen by the executor. */
  target?: string;
  required: boolean;
  mode: number;
  uid: number;
  gid: number;
}

export type RunMount = BindMount | CacheMount | TmpfsMount | SecretMount | SshMount;

export interface RunDevice {
  name: string;
  required: boolean;
}

export interface RunStep extends StepCommon {
  kind: 'run';
  command: CommandLine;
  /**
   * What is executed: the exec form as written, or the shell plus one script. Heredocs are applied the way
   * BuildKit does: a lone `<<EOF` runs its body (or `/dev/pipes/EOF` when the body starts with `#!`), anything
   * else hands the reconstituted text to the shell.
   */
  argv: string[];
  heredocs: RunHeredoc[];
  inlineFiles: InlineFile[];
  mounts: RunMount[];
  network: 'default' | 'none' | 'host';
  security: 'sandbox' | 'insecure';
  devices: RunDevice[];
  /** Proxy build args (HTTP_PROXY …, any case) given to every RUN; never part of cache keys or history. */
  proxyEnv: KeyValue[];
}

/** One COPY/ADD source that is not a heredoc. */
export type CopySource =
  { kind: 'path'; path: string } | { kind: 'url'; url: string } | { kind: 'git'; url: string };

/** A heredoc used as a COPY/ADD source: a 0644 file named after the delimiter. */
export interface HeredocFile {
  name: string;
  /** Final content: `<<-` tabs stripped, then expanded when the delimiter was not quoted. */
  content: string;
}

/** A parsed `--chmod`: octal, or a symbolic mode applied to each file's own mode (see applyChmod). */
export type Chmod = { kind: 'octal'; mode: number } | { kind: 'symbolic'; spec: string };

export interface CopyStep extends StepCommon {
  kind: 'copy' | 'add';
  sources: CopySource[];
  heredocs: HeredocFile[];
  /** The destination after expansion, as written. */
  dest: string;
  /** The destination made absolute against the working directory; a trailing `/` (or `/.`) is kept. */
  destPath: string;
  /** COPY --from; undefined means the build context. */
  from?: StageRef;
  chown?: string;
  chmod?: Chmod;
  link: boolean;
  /** COPY --parents. */
  parents: boolean;
  /** --exclude patterns, never expanded. */
  excludes: string[];
  /** ADD --checksum. */
  checksum?: string;
  /** ADD --keep-git-dir; undefined when not given. */
  keepGitDir?: boolean;
  /** ADD --unpack; undefined when not given. */
  unpack?: boolean;
}

export interface EnvStep extends StepCommon {
  kind: 'env';
  vars: KeyValue[];
}

export interface LabelStep extends StepCommon {
  kind: 'label';
  labels: KeyValue[];
}

export interface ArgDeclaration {
  key: string;
  /** The default as written (unexpanded), if any. */
  default?: string;
  /** The value the ARG takes; undefined when it has none. */
  value?: string;
  /** Where the value came from. */
  source: 'build-arg' | 'default' | 'global' | 'unset';
}

export interface ArgStep extends StepCommon {
  kind: 'arg';
  args: ArgDeclaration[];
}

export interface WorkdirStep extends StepCommon {
  kind: 'workdir';
  /** As written after expansion. */
  path: string;
  /** Absolute, joined to the previous working directory when relative. */
  resolved: string;
}

export interface UserStep extends StepCommon {
  kind: 'user';
  user: string;
}

export interface VolumeStep extends StepCommon {
  kind: 'volume';
  volumes: string[];
}

export interface ExposeStep extends StepCommon {
  kind: 'expose';
  /** Normalised `port/proto` keys, one per port of a range, in BuildKit's order. */
  ports: string[];
}

export interface StopSignalStep extends StepCommon {
  kind: 'stopsignal';
  signal: string;
}

export interface ShellStep extends StepCommon {
  kind: 'shell';
  shell: string[];
}

export interface CmdStep extends StepCommon {
  kind: 'cmd';
  command: CommandLine;
  /** The config Cmd: exec form as written, shell form wrapped in the current shell. */
  argv: string[];
}

export interface EntrypointStep extends StepCommon {
  kind: 'entrypoint';
  command: CommandLine;
  /** The config Entrypoint; null for `ENTRYPOINT []`, which clears it. */
  argv: string[] | null;
}

/** Durations are nanoseconds; 0 means "not set" (the runtime default applies). */
export interface HealthcheckStep extends StepCommon {
  kind: 'healthcheck';
  /** `['NONE']`, `['CMD', ...]` or `['CMD-SHELL', script]`. */
  test: string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

export interface MaintainerStep extends StepCommon {
  kind: 'maintainer';
  maintainer: string;
}

export interface OnbuildStep extends StepCommon {
  kind: 'onbuild';
  /** The trigger as BuildKit stores it in the config's OnBuild list. */
  trigger: string;
}

export type Step =
  | RunStep
  | CopyStep
  | EnvStep
  | LabelStep
  | ArgStep
  | WorkdirStep
  | UserStep
  | VolumeStep
  | ExposeStep
  | StopSignalStep
  | ShellStep
  | CmdStep
  | EntrypointStep
  | HealthcheckStep
  | MaintainerStep
  | OnbuildStep;

export type StepKind = Step['kind'];

/** The step type of one kind: `StepOfKind<'add'>` is CopyStep. */
export type StepOfKind<K extends StepKind> = Step extends infer S
  ? S extends { kind: infer SK }
    ? K extends SK
      ? S
      : never
    : never
  : never;

export interface Stage extends SourceSpan {
  index: number;
  /** The `AS` name, lower-cased. */
  name?: string;
  /** The name BuildKit uses in messages: the `AS` name, else `stage-N`. */
  displayName: string;
  /** The FROM argument after expansion with the global ARGs. */
  baseName: string;
  base: StageRef;
  /** The stage's platform: FROM --platform, else the parent stage's, else the target platform. */
  platform: Platform;
  /** True when FROM --platform was given (and the base is not another stage). */
  explicitPlatform: boolean;
  /** Stages this one reads: its base stage, COPY --from and RUN --mount from= (triggers included); ascending. */
  dependsOn: number[];
  /** Whether the target needs this stage; stages not needed are planned on a best-effort basis only. */
  needed: boolean;
  /**
   * False when the base is an image whose config (Env, WorkingDir, User, Shell, OnBuild) was not supplied through
   * `PlanOptions.baseImage`: the plan is then provisional for this stage and should be made again once the image
   * is resolved.
   */
  baseConfigKnown: boolean;
  /** The state the stage starts in: the base's config, before any step. */
  entry: StepContext;
  steps: Step[];
  /** The stage's own ONBUILD triggers, which a stage built FROM this one runs first. */
  onBuild: string[];
  /** For a stage that is not needed: why it could not be planned completely (it is then not built anyway). */
  planError?: string;
}

/** A global ARG (before the first FROM). */
export interface MetaArg {
  key: string;
  default?: string;
  value?: string;
  line: number;
}

export interface BuildPlan {
  fileName: string;
  /** All stages in file order. */
  stages: Stage[];
  /** Index of the stage that is built. */
  target: number;
  /** Stages the target needs (itself included), ascending; only these are built. */
  needed: number[];
  metaArgs: MetaArg[];
  /** What FROM lines see: the automatic platform args, then the global ARGs that have a value. */
  globalArgs: KeyValue[];
  /** Build args given but never declared by an ARG the build uses (automatic, proxy and BUILDKIT_ args excepted). */
  unusedBuildArgs: string[];
  targetPlatform: Platform;
  buildPlatform: Platform;
}

/** The parts of a base image's config the planner needs. */
export interface BaseImageConfig {
  env?: string[];
  workingDir?: string;
  user?: string;
  shell?: string[];
  onBuild?: string[];
}

export interface PlanOptions {
  /** The Dockerfile name for messages (`Dockerfile`, `build/app.Dockerfile`). */
  fileName: string;
  /** `--build-arg` values. */
  buildArgs: ReadonlyMap<string, string>;
  /** `--target`; the last stage by default. */
  target?: string;
  /** The target platform; default: this machine's (`linux` and process.arch mapped to Go names). */
  platform?: Platform;
  /** The build platform; default: this machine's. */
  buildPlatform?: Platform;
  /** The Dockerfile's physical lines, for the source text quoted in errors. */
  lines?: readonly string[];
  /**
   * The config of a resolved base image (`normalized` reference). Without it, image stages start from an empty
   * config (default PATH, `/`, root) and `Stage.baseConfigKnown` is false.
   */
  baseImage?: (normalizedRef: string, platform: Platform) => BaseImageConfig | undefined;
  /** Only the OnBuild list of a base image, for callers that know nothing else of it. */
  baseOnBuild?: (normalizedRef: string) => string[] | undefined;
}
