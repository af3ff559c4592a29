import { Args, Errors, Flags } from '@oclif/core';
import { markInUse } from '../../cache/in-use';
import { TsbuildError, UserError } from '../../errors';
import { ExecError, runImage } from '../../executor/run-image';
import { RegistryClient } from '../../image/registry/client';
import { originFetcher } from '../../image/registry/origin-fetch';
import type { RuntimeConfig } from '../../image/oci-types';
import { BlobStore } from '../../store/blob-store';
import { BaseCommand } from '../base-command';
import { storeRoot } from '../build-options';
import { repeatableString } from '../flags';
import { ensureLayersLocal, findLocalImage } from '../local-image';

/** docker run's exit code for its own failures (no such image, a bad flag), as opposed to the process's. */
const OWN_ERROR = 125;

/** The flags that take a value, so that the image (the first word that is not a flag or a value) is found. */
const VALUE_FLAGS = new Set([
  '--root',
  '-e',
  '--env',
  '--network',
  '-u',
  '--user',
  '-w',
  '--workdir',
  '--entrypoint',
  '--insecure-registry',
]);

export default class Run extends BaseCommand {
  static override summary = "Run an image's command once, in the sandbox RUN steps use.";

  static override description =
    'As `docker run IMAGE [COMMAND [ARG...]]` for a smoke test: the image’s Entrypoint and Cmd (COMMAND replaces ' +
    'Cmd; --entrypoint replaces Entrypoint and drops Cmd), Env, User and WorkingDir, in a sandbox of its own (an ' +
    'OCI runtime, namespaces, seccomp; the network of a RUN step) on a throwaway overlay of the image’s layers. ' +
    'No ports, no volumes, no stdin. Its output is ours and its exit code is ours; 125 is tsbuild’s own failure ' +
    '(no such image, a bad flag), 126 a command that cannot be executed, 127 one that is not found. Layers a ' +
    'lazy pull left in their registry are fetched first.';

  static override examples = [
    '<%= config.bin %> run app:1',
    "<%= config.bin %> run -e DEBUG=1 -u nobody app:1 sh -c 'id; env'",
  ];

  static override args = {
    image: Args.string({
      ignoreStdin: true,
      description: 'image name, name:tag, digest or image id',
      required: true,
    }),
  };

  static override flags = {
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    env: repeatableString({
      char: 'e',
      description: 'set an environment variable (KEY=VALUE, or KEY from ours)',
    }),
    network: Flags.string({
      description: 'network: default (outbound only) or none',
      options: ['default', 'none'],
    }),
    user: Flags.string({ char: 'u', description: 'user, as USER takes it (name|uid[:group|gid])' }),
    workdir: Flags.string({ char: 'w', description: 'working directory (absolute)' }),
    entrypoint: Flags.string({ description: "replace the image's entrypoint (and drop its Cmd)" }),
    rm: Flags.boolean({ description: 'accepted for docker compatibility: the container is always removed' }),
    'insecure-registry': repeatableString({
      description: 'a registry reachable without verified TLS, for layers fetched from it',
    }),
  };

  async run(): Promise<void> {
    const { own, image: imageWord, command } = splitArgv(this.argv);
    const { args, flags } = await this.parse(Run, imageWord === undefined ? own : [...own, imageWord]);
    const root = storeRoot(flags.root);
    const blobs = new BlobStore(root);
    const local = await findLocalImage(root, blobs, args.image);
    if (local === undefined) throw new UserError(`no such image: ${args.image}`);
    const config = local.image.config.config;
    const argv = processArgv(config, flags.entrypoint, command);
    if (argv.length === 0)
      throw new UserError(`no command specified: ${args.image} has no Entrypoint or Cmd`);
    const workdir = flags.workdir ?? (config.WorkingDir || '/');
    if (!workdir.startsWith('/'))
      throw new UserError(`the working directory '${workdir}' is invalid, it needs to be an absolute path`);
    // What the run reads is kept from a concurrent prune, as a build's is.
    const inUse = await markInUse(root);
    const abort = new AbortController();
    const stop = (): void => abort.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const { layers } = local.image;
      await inUse.add([local.image.manifestDigest, ...layers.flatMap((l) => [l.digest, l.diffId])]);
      const client = new RegistryClient({ insecureRegistries: flags['insecure-registry'] ?? [] });
      await ensureLayersLocal(root, blobs, args.image, layers, originFetcher(blobs, client));
      const code = await runImage({
        root,
        blobs,
        layers,
        argv,
        env: mergeEnv(config.Env ?? [], flags.env ?? []),
        user: flags.user ?? config.User ?? '',
        workdir,
        network: flags.network === 'none' ? 'none' : 'default',
        onOutput: (chunk, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk),
        signal: abort.signal,
      });
      process.exitCode = code;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await inUse.release();
    }
  }

  /** As docker run: the process's 126/127 when it cannot start, 125 for every failure of tsbuild's own. */
  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (err instanceof ExecError) {
      process.stderr.write(`${err.message}\n`);
      this.exit(err.exitCode);
    }
    if (err instanceof Errors.ExitError) return super.catch(err);
    try {
      return await super.catch(err);
    } catch (handled) {
      if (handled instanceof Errors.ExitError && err instanceof Error && isOwnError(err))
        this.exit(OWN_ERROR);
      throw handled;
    }
  }
}

/** An error BaseCommand reports in one line (ours, a path, a flag), not a bug. */
function isOwnError(err: Error): boolean {
  return err instanceof TsbuildError || err instanceof Errors.CLIError || 'code' in err;
}

/**
 * tsbuild's own flags, the image, and the command after it (whose flags are its own: `run img sh -c 'exit 3'`).
 * `--` ends tsbuild's flags too.
 */
export function splitArgv(argv: readonly string[]): { own: string[]; image?: string; command: string[] } {
  const own: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? '';
    if (word === '--') return { own, image: argv[i + 1], command: argv.slice(i + 2) };
    if (word.startsWith('-') && word !== '-') {
      own.push(word);
      if (VALUE_FLAGS.has(word) && i + 1 < argv.length) own.push(argv[++i] ?? '');
      continue;
    }
    return { own, image: word, command: argv.slice(i + 1) };
  }
  return { own, command: [] };
}

/** Entrypoint + Cmd as docker run makes them: COMMAND replaces Cmd; --entrypoint replaces Entrypoint, drops Cmd. */
export function processArgv(
  config: RuntimeConfig,
  entrypoint: string | undefined,
  command: string[],
): string[] {
  if (entrypoint !== undefined) return [...(entrypoint === '' ? [] : [entrypoint]), ...command];
  return [...(config.Entrypoint ?? []), ...(command.length > 0 ? command : (config.Cmd ?? []))];
}

/**
 * The image's Env with `-e` applied as docker does: `KEY=VALUE` replaces KEY or is appended; a bare `KEY` takes
 * our value of KEY, and removes KEY when we have none.
 */
export function mergeEnv(image: readonly string[], given: readonly string[]): string[] {
  const env = [...image];
  const keyOf = (kv: string): string => (kv.includes('=') ? kv.slice(0, kv.indexOf('=')) : kv);
  for (const item of given) {
    const key = keyOf(item);
    if (key === '') throw new UserError(`invalid environment variable: ${item}`);
    const host = process.env[key];
    const value = item.includes('=') ? item : host !== undefined ? `${key}=${host}` : undefined;
    const at = env.findIndex((kv) => keyOf(kv) === key);
    if (value === undefined) {
      if (at >= 0) env.splice(at, 1);
    } else if (at >= 0) env[at] = value;
    else env.push(value);
  }
  return env;
}
