/**
 * Instructions after BuildKit's per-instruction checks (`instructions/parse.go`) and before expansion: the
 * planner's internal form between the AST and the plan. Values here are still raw (quotes kept, `$VAR` unexpanded)
 * except where BuildKit itself fixes them at parse time (flags, HEALTHCHECK durations, JSON-form arguments).
 */
import type { RunDevice, SourceSpan } from './types';

interface CommandBase {
  span: SourceSpan;
  fromOnBuild: boolean;
}

/** BuildKit's ShellDependantCmdLine: exec-form words, or one shell-form string to be wrapped in the shell. */
export interface CmdLine {
  args: string[];
  prependShell: boolean;
}

export interface RawPair {
  key: string;
  value: string;
}

export interface EnvCommand extends CommandBase {
  kind: 'env';
  pairs: RawPair[];
}

export interface LabelCommand extends CommandBase {
  kind: 'label';
  pairs: RawPair[];
}

export interface MaintainerCommand extends CommandBase {
  kind: 'maintainer';
  maintainer: string;
}

/** A heredoc COPY/ADD source: `<<-` already applied, expansion still to come. */
export interface SourceContent {
  name: string;
  data: string;
  expand: boolean;
}

export interface CopyCommand extends CommandBase {
  kind: 'copy' | 'add';
  sourcePaths: string[];
  sourceContents: SourceContent[];
  dest: string;
  /** COPY --from as written ('' when absent). */
  from: string;
  chown: string;
  chmod: string;
  link: boolean;
  parents: boolean;
  excludes: string[];
  checksum: string;
  keepGitDir?: boolean;
  unpack?: boolean;
}

export interface OnbuildCommand extends CommandBase {
  kind: 'onbuild';
  expression: string;
}

export interface WorkdirCommand extends CommandBase {
  kind: 'workdir';
  path: string;
}

export interface RunFile {
  name: string;
  data: string;
  chomp: boolean;
  expand: boolean;
  fileDescriptor: number;
}

export interface RunCommand extends CommandBase {
  kind: 'run';
  cmdLine: CmdLine;
  files: RunFile[];
  /** `--mount` values as written; parsed and expanded when the step is planned. */
  mounts: string[];
  /** The `from=` of each mount ('' when none), known at parse time for the dependency graph. */
  mountFroms: string[];
  network: 'default' | 'none' | 'host';
  security: 'sandbox' | 'insecure';
  devices: RunDevice[];
}

export interface CmdCommand extends CommandBase {
  kind: 'cmd';
  cmdLine: CmdLine;
}

export interface EntrypointCommand extends CommandBase {
  kind: 'entrypoint';
  /** Null for `ENTRYPOINT []`. */
  cmdLine: CmdLine | null;
  json: boolean;
}

export interface HealthcheckCommand extends CommandBase {
  kind: 'healthcheck';
  test: string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

export interface ExposeCommand extends CommandBase {
  kind: 'expose';
  ports: string[];
}

export interface UserCommand extends CommandBase {
  kind: 'user';
  user: string;
}

export interface VolumeCommand extends CommandBase {
  kind: 'volume';
  volumes: string[];
}

export interface StopSignalCommand extends CommandBase {
  kind: 'stopsignal';
  signal: string;
}

export interface ArgPair {
  key: string;
  value?: string;
}

export interface ArgCommand extends CommandBase {
  kind: 'arg';
  args: ArgPair[];
}

export interface ShellCommand extends CommandBase {
  kind: 'shell';
  shell: string[];
}

export type Command =
  | EnvCommand
  | LabelCommand
  | MaintainerCommand
  | CopyCommand
  | OnbuildCommand
  | WorkdirCommand
  | RunCommand
  | CmdCommand
  | EntrypointCommand
  | HealthcheckCommand
  | ExposeCommand
  | UserCommand
  | VolumeCommand
  | StopSignalCommand
  | ArgCommand
  | ShellCommand;

/** FROM: the header of a stage. */
export interface FromCommand {
  kind: 'from';
  span: SourceSpan;
  /** The base as written (unexpanded). */
  baseName: string;
  /** The `AS` name, lower-cased. */
  name?: string;
  /** FROM --platform as written ('' when absent). */
  platform: string;
}
