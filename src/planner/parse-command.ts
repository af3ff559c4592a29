/**
 * One AST instruction → one typed command, with BuildKit's per-instruction checks and messages
 * (`frontend/dockerfile/instructions/parse.go`): argument counts, the flags each instruction takes, stage names,
 * HEALTHCHECK options, ONBUILD triggers. Nothing is expanded here. Errors are PlanFaults; the caller adds the
 * location.
 */
import type { Heredoc, Instruction } from '../parser/ast';
import { chompHeredocContent, parseHeredocWord } from '../parser/heredoc';
import type {
  ArgPair,
  CmdLine,
  Command,
  CopyCommand,
  FromCommand,
  HealthcheckCommand,
  RawPair,
  RunCommand,
  SourceContent,
} from './commands';
import { DurationError, parseGoDuration } from './duration';
import { PlanFault } from './fault';
import { InstructionFlags } from './flags';
import { goParseInt, goQuote } from './go';
import { mountFromAtParse, parseDevice } from './mounts';
import { withSuggestion } from './suggest';
import type { SourceSpan } from './types';

/** Every instruction BuildKit knows, for "did you mean". */
export const INSTRUCTION_NAMES = [
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
];

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;
const ONBUILD_PREFIX = /^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*/i;
/** HEALTHCHECK durations below this are refused (Docker's container.MinimumDuration). */
const MIN_HEALTH_DURATION = 1_000_000n;

/** Parses `ins`. `span` is where errors and steps point (for a trigger, the FROM of the stage running it). */
export function parseCommand(
  ins: Instruction,
  span: SourceSpan,
  fromOnBuild: boolean,
): Command | FromCommand {
  const base = { span, fromOnBuild };
  const args = ins.args;
  const flags = new InstructionFlags(ins.flags);
  switch (ins.name) {
    case 'env':
      flags.parse();
      return { ...base, kind: 'env', pairs: keyValuePairs(args, 'ENV') };
    case 'label':
      flags.parse();
      return { ...base, kind: 'label', pairs: keyValuePairs(args, 'LABEL') };
    case 'maintainer':
      exactlyOne(args, 'MAINTAINER');
      flags.parse();
      return { ...base, kind: 'maintainer', maintainer: args[0] };
    case 'add':
    case 'copy':
      return parseCopy(ins, base);
    case 'from':
      return parseFrom(ins, span);
    case 'onbuild':
      return parseOnbuild(ins, base, flags);
    case 'workdir':
      exactlyOne(args, 'WORKDIR');
      flags.parse();
      return { ...base, kind: 'workdir', path: args[0] };
    case 'run':
      return parseRun(ins, base);
    case 'cmd':
      flags.parse();
      return { ...base, kind: 'cmd', cmdLine: cmdLine(args, ins.json) };
    case 'entrypoint': {
      flags.parse();
      const line = cmdLine(args, ins.json);
      // `ENTRYPOINT []` clears the entrypoint; a bare `ENTRYPOINT` is an empty shell command.
      return {
        ...base,
        kind: 'entrypoint',
        cmdLine: line.args.length === 0 && ins.json ? null : line,
        json: ins.json,
      };
    }
    case 'healthcheck':
      return parseHealthcheck(ins, base, flags);
    case 'expose':
      if (args.length === 0) throw atLeastOne('EXPOSE');
      flags.parse();
      return { ...base, kind: 'expose', ports: [...args].sort(byteCompare) };
    case 'user':
      exactlyOne(args, 'USER');
      flags.parse();
      return { ...base, kind: 'user', user: args[0] };
    case 'volume': {
      if (args.length === 0) throw atLeastOne('VOLUME');
      flags.parse();
      const volumes = args.map((v) => v.trim());
      if (volumes.some((v) => v === '')) throw new PlanFault('VOLUME specified can not be an empty string');
      return { ...base, kind: 'volume', volumes };
    }
    case 'stopsignal':
      // BuildKit never parses STOPSIGNAL's flags: they are ignored.
      exactlyOne(args, 'STOPSIGNAL');
      return { ...base, kind: 'stopsignal', signal: args[0] };
    case 'arg':
      // BuildKit never parses ARG's flags either.
      if (args.length === 0) throw atLeastOne('ARG');
      return { ...base, kind: 'arg', args: args.map(argPair) };
    case 'shell': {
      flags.parse();
      const shell = handleJsonArgs(args, ins.json);
      if (shell.length === 0) throw atLeastOne('SHELL');
      if (!ins.json) throw new PlanFault('SHELL requires the arguments to be in JSON form');
      return { ...base, kind: 'shell', shell };
    }
    default:
      throw new PlanFault(
        withSuggestion(`unknown instruction: ${ins.keyword}`, ins.keyword, INSTRUCTION_NAMES, false),
      );
  }
}

function atLeastOne(command: string): PlanFault {
  return new PlanFault(`${command} requires at least one argument`);
}

function exactlyOne(args: readonly string[], command: string): void {
  if (args.length !== 1) throw new PlanFault(`${command} requires exactly one argument`);
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** ENV and LABEL: the parser's key/value/separator triples. */
function keyValuePairs(args: readonly string[], command: string): RawPair[] {
  if (args.length === 0) throw atLeastOne(command);
  if (args.length % 3 !== 0) throw new PlanFault(`Bad input to ${command}, too many arguments`);
  const pairs: RawPair[] = [];
  for (let i = 0; i < args.length; i += 3) {
    if (args[i] === '') throw new PlanFault(`${command} names can not be blank`);
    pairs.push({ key: args[i], value: args[i + 1] });
  }
  return pairs;
}

function argPair(word: string): ArgPair {
  const eq = word.indexOf('=');
  if (eq < 0) return { key: word };
  if (eq === 0) throw new PlanFault('ARG names can not be blank');
  return { key: word.slice(0, eq), value: word.slice(eq + 1) };
}

/** BuildKit's handleJSONArgs: exec-form words as they are, shell form as one string. */
function handleJsonArgs(args: readonly string[], json: boolean): string[] {
  if (args.length === 0) return [];
  return json ? [...args] : [args.join(' ')];
}

function cmdLine(args: readonly string[], json: boolean): CmdLine {
  return { args: handleJsonArgs(args, json), prependShell: !json };
}

/** BuildKit's MustParseHeredoc: the heredoc a single word opens, if it is one. */
export function heredocOf(word: string): Omit<Heredoc, 'content'> | undefined {
  try {
    return parseHeredocWord(word);
  } catch {
    return undefined;
  }
}

function parseCopy(ins: Instruction, base: { span: SourceSpan; fromOnBuild: boolean }): CopyCommand {
  const isAdd = ins.name === 'add';
  const command = isAdd ? 'ADD' : 'COPY';
  if (ins.args.length < 2) {
    throw new PlanFault(
      `${command} requires at least two arguments, but only one was provided. Destination could not be determined`,
    );
  }
  const flags = new InstructionFlags(ins.flags)
    .strings('exclude')
    .string('chown')
    .string('chmod')
    .bool('link');
  if (isAdd) flags.bool('keep-git-dir').string('checksum').bool('unpack');
  else flags.string('from').bool('parents');
  flags.parse();

  const dest = ins.args[ins.args.length - 1];
  if (heredocOf(dest)) throw new PlanFault(`${command} cannot accept a heredoc as a destination`);
  const bodies = new Map(ins.heredocs.map((h) => [h.name, h]));
  const sourcePaths: string[] = [];
  const sourceContents: SourceContent[] = [];
  for (const src of ins.args.slice(0, -1)) {
    const doc = heredocOf(src);
    if (!doc) {
      sourcePaths.push(src);
      continue;
    }
    const raw = bodies.get(doc.name)?.content ?? '';
    sourceContents.push({
      name: doc.name,
      data: doc.chomp ? chompHeredocContent(raw) : raw,
      expand: doc.expand,
    });
  }
  return {
    ...base,
    kind: isAdd ? 'add' : 'copy',
    sourcePaths,
    sourceContents,
    dest,
    from: isAdd ? '' : flags.value('from'),
    chown: flags.value('chown'),
    chmod: flags.value('chmod'),
    link: flags.isTrue('link'),
    parents: !isAdd && flags.isTrue('parents'),
    excludes: flags.values('exclude'),
    checksum: isAdd ? flags.value('checksum') : '',
    keepGitDir: isAdd && flags.isUsed('keep-git-dir') ? flags.isTrue('keep-git-dir') : undefined,
    unpack: isAdd && flags.isUsed('unpack') ? flags.isTrue('unpack') : undefined,
  };
}

function parseFrom(ins: Instruction, span: SourceSpan): FromCommand {
  const args = ins.args;
  let name: string | undefined;
  if (args.length === 3 && args[1].toLowerCase() === 'as') {
    name = args[2].toLowerCase();
    if (!STAGE_NAME.test(name)) {
      throw new PlanFault(
        `invalid name for build stage: ${goQuote(args[2])}, name can't start with a number or contain symbols`,
      );
    }
  } else if (args.length !== 1) {
    throw new PlanFault('FROM requires either one or three arguments');
  }
  const flags = new InstructionFlags(ins.flags).string('platform').parse();
  return { kind: 'from', span, baseName: args[0], name, platform: flags.value('platform') };
}

function parseOnbuild(
  ins: Instruction,
  base: { span: SourceSpan; fromOnBuild: boolean },
  flags: InstructionFlags,
): Command {
  if (!ins.onbuild) throw atLeastOne('ONBUILD');
  flags.parse();
  const trigger = ins.onbuild.keyword.trim().toUpperCase();
  if (trigger === 'ONBUILD') throw new PlanFault("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (trigger === 'MAINTAINER' || trigger === 'FROM') {
    throw new PlanFault(`${trigger} isn't allowed as an ONBUILD trigger`);
  }
  // The trigger is stored as written (keyword case included), with its heredoc bodies re-attached so that it
  // parses again on its own.
  let expression = ins.original.replace(ONBUILD_PREFIX, '');
  for (const doc of ins.heredocs) expression += `\n${doc.content}${doc.name}`;
  return { ...base, kind: 'onbuild', expression };
}

function parseRun(ins: Instruction, base: { span: SourceSpan; fromOnBuild: boolean }): RunCommand {
  const flags = new InstructionFlags(ins.flags)
    .strings('mount')
    .string('network', 'default')
    .string('security', 'sandbox')
    .strings('device')
    .parse();
  const mounts = flags.values('mount');
  const mountFroms = mounts.map(mountFromAtParse);
  const network = flags.value('network');
  if (network !== 'default' && network !== 'none' && network !== 'host') {
    throw new PlanFault(`invalid network mode ${goQuote(network)}`);
  }
  const security = flags.value('security');
  if (security !== 'sandbox' && security !== 'insecure') {
    throw new PlanFault(`security ${goQuote(security)} is not valid`);
  }
  const devices = flags.values('device').map(parseDevice);
  return {
    ...base,
    kind: 'run',
    cmdLine: cmdLine(ins.args, ins.json),
    files: ins.heredocs.map((h) => ({
      name: h.name,
      data: h.content,
      chomp: h.chomp,
      expand: h.expand,
      fileDescriptor: h.fileDescriptor,
    })),
    mounts,
    mountFroms,
    network,
    security,
    devices,
  };
}

function parseHealthcheck(
  ins: Instruction,
  base: { span: SourceSpan; fromOnBuild: boolean },
  flags: InstructionFlags,
): HealthcheckCommand {
  if (ins.args.length === 0) throw atLeastOne('HEALTHCHECK');
  const type = ins.args[0].toUpperCase();
  const rest = ins.args.slice(1);
  const none = { test: [type], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  if (type === 'NONE') {
    // Flags are not even looked at for NONE.
    if (rest.length !== 0) throw new PlanFault('HEALTHCHECK NONE takes no arguments');
    return { ...base, kind: 'healthcheck', ...none };
  }
  flags
    .string('interval')
    .string('timeout')
    .string('start-period')
    .string('start-interval')
    .string('retries');
  flags.parse();
  if (type !== 'CMD') throw new PlanFault(`Unknown type ${goQuote(type)} in HEALTHCHECK (try CMD)`);
  const cmd = handleJsonArgs(rest, ins.json);
  if (cmd.length === 0) throw new PlanFault('Missing command after HEALTHCHECK CMD');
  const test = [ins.json ? 'CMD' : 'CMD-SHELL', ...cmd];
  const interval = healthDuration(flags, 'interval');
  const timeout = healthDuration(flags, 'timeout');
  const startPeriod = healthDuration(flags, 'start-period');
  const startInterval = healthDuration(flags, 'start-interval');
  let retries = 0;
  const rawRetries = flags.value('retries');
  if (rawRetries !== '') {
    const parsed = goParseInt(rawRetries, 32);
    if ('error' in parsed) throw new PlanFault(parsed.error);
    if (parsed.value < 0) throw new PlanFault(`--retries cannot be negative (${parsed.value})`);
    retries = parsed.value;
  }
  return { ...base, kind: 'healthcheck', test, interval, timeout, startPeriod, startInterval, retries };
}

/** A HEALTHCHECK duration flag: '' and 0 mean unset; anything else must be at least 1ms. */
function healthDuration(flags: InstructionFlags, name: string): number {
  const value = flags.value(name);
  if (value === '') return 0;
  let d: bigint;
  try {
    d = parseGoDuration(value);
  } catch (err) {
    if (err instanceof DurationError) throw new PlanFault(err.message);
    throw err;
  }
  if (d === 0n) return 0;
  if (d < MIN_HEALTH_DURATION) throw new PlanFault(`Interval ${goQuote(name)} cannot be less than 1ms`);
  return Number(d);
}
