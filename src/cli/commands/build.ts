import { hostPlatform } from '../../platform';
import { Args, Flags } from '@oclif/core';
import * as path from 'node:path';
import { atomicWriteFile } from '../../store/atomic';
import { defaultMaxStorage, pruneStore } from '../../cache/gc';
import { markInUse } from '../../cache/in-use';
import { appendBuildLog, carriedBuilds, mergeBuildLog } from '../../cache/build-log';
import { openRunsDir } from '../../layers/runs-dir';
import { loadStepCosts } from '../../cache/step-costs';
import { parseSize } from '../../cache/units';
import { renderMarkdownReport } from '../../report/markdown-report';
import { TsbuildError, UserError } from '../../errors';
import { build, type BuildOptions, type BuiltImage } from '../../executor/build';
import { parseCacheFrom, parseCacheTo } from '../../cache/transfer/cache-spec';
import { formatSize } from '../../cache/units';
import { exportCacheTo, loadCacheFrom } from '../cache-io';
import { parsePlatformOption } from '../../planner';
import { ReportCollector } from '../../report/build-report';
import type { EventSink } from '../../events';
import { FAILURE_TAIL_LINES, failureBlock } from '../../report/failure-log';
import { progressView, type ProgressMode } from '../../report/progress';
import { appendStepSummary, errorAnnotation } from '../github-actions';
import { BaseCommand } from '../base-command';
import { resolveBuildInput } from '../build-input';
import { repeatableString } from '../flags';
import {
  parseKeyValues,
  parseLoad,
  parseOutput,
  readSecrets,
  sourceDateEpoch,
  storeRoot,
  withLoadDefault,
} from '../build-options';
import { imageIsLocal, openImageStore, parseNamedContexts, writeOutputs } from '../image-io';

export default class Build extends BaseCommand {
  static override summary = 'Build an image from a Dockerfile (the default command).';

  static override description =
    'Reads the Dockerfile, checks every step against the layer cache, builds only what missed and stores a ' +
    'tagged OCI image. The log says which steps hit and why each miss happened. Flags mean what they mean to ' +
    '`docker build`. `tsbuild -t app .` is the same as `tsbuild build -t app .`.';

  static override examples = [
    '<%= config.bin %> -t myapp .',
    '<%= config.bin %> build -f build/app.Dockerfile --build-arg VERSION=1.2 --target prod -t myapp:1.2 .',
    '<%= config.bin %> -t myapp --output type=oci,dest=myapp.tar --report report.json .',
  ];

  static override args = {
    context: Args.string({
      description:
        'build context: a directory, a tarball URL, or - for a tar context (or a Dockerfile alone) on stdin',
      default: '.',
      // oclif would read piped stdin as a context argument left out; stdin is read only when - says so.
      ignoreStdin: true,
    }),
  };

  static override flags = {
    tag: repeatableString({ char: 't', description: 'name and optionally a tag (NAME[:TAG])' }),
    file: Flags.string({
      char: 'f',
      description: 'Dockerfile path (default: CONTEXT/Dockerfile), or - to read it from stdin',
    }),
    'build-arg': repeatableString({
      description: 'build-time variable (NAME=VALUE, or NAME from the environment)',
    }),
    target: Flags.string({ description: 'the stage to build' }),
    'no-cache': Flags.boolean({ description: 'do not use the cache for any step' }),
    label: repeatableString({ description: 'image label (KEY=VALUE)' }),
    iidfile: Flags.string({ description: 'write the image id to this file' }),
    progress: Flags.string({
      options: ['auto', 'plain', 'tty', 'json'],
      default: 'auto',
      description: 'progress output',
    }),
    report: Flags.string({ description: 'write a cache report of the build to this file' }),
    'report-format': Flags.string({
      options: ['json', 'markdown'],
      default: 'json',
      description: 'format of --report: JSON, or markdown for a CI job summary',
    }),
    'max-storage': Flags.string({
      description: 'prune the store to this size after the build, least recently used first (e.g. 20GB)',
    }),
    output: repeatableString({
      char: 'o',
      description: 'also export: type=oci,dest=PATH[.tar] | type=docker,dest=FILE.tar | type=local,dest=DIR',
    }),
    compression: Flags.string({
      options: ['gzip', 'zstd'],
      default: 'gzip',
      description: 'compression of new layers',
    }),
    platform: Flags.string({ description: 'target platform (os/arch[/variant])' }),
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    quiet: Flags.boolean({ char: 'q', description: 'print only the image id' }),
    secret: repeatableString({
      description: 'secret for RUN --mount=type=secret: id=NAME[,src=FILE|,env=VAR]',
    }),
    network: Flags.string({
      options: ['default', 'none', 'host'],
      default: 'default',
      description:
        "network for RUN steps: default (each RUN's own namespace, outbound through slirp4netns, the host's " +
        'loopback out of reach), none (loopback only), host (needs --allow network.host)',
    }),
    allow: repeatableString({
      description: 'grant an entitlement, as buildx: network.host (RUN may use the host network)',
    }),
    isolation: Flags.string({
      options: ['auto', 'oci', 'chroot'],
      default: 'auto',
      description:
        'how RUN is isolated: an OCI runtime (runc, else crun) for auto and oci; chroot is refused (it can be escaped)',
    }),
    'build-context': repeatableString({
      description:
        'a named image for FROM/COPY --from: NAME=docker-image://REF or NAME=oci-layout://DIR[:TAG|@DIGEST]',
    }),
    'cache-from': repeatableString({
      description:
        'import a build cache: type=local,src=DIR | type=registry,ref=REF | REF (an image with an inline cache)',
    }),
    'cache-to': repeatableString({
      description:
        'export the build cache: type=local,dest=DIR | type=registry,ref=REF | type=inline ' +
        '[,mode=max|min][,cache-mounts=true]',
    }),
    'context-modes': Flags.string({
      options: ['normalize', 'preserve'],
      default: 'normalize',
      description:
        'modes of build-context files: normalize clears group/other write bits (the same cache under any umask), ' +
        'preserve keeps them as on disk (as docker build does)',
    }),
    pull: Flags.boolean({ description: 'always ask the registry for newer versions of base images' }),
    push: Flags.boolean({ description: 'push the image to the registry of each -t name' }),
    load: Flags.string({
      description:
        'load the image into the local docker engine (its API socket: DOCKER_HOST or /var/run/docker.sock), or with --load=podman into podman',
      helpValue: 'docker|podman',
    }),
    'insecure-registry': repeatableString({
      description: 'registry (host[:port]) reached over plain HTTP or unverified TLS',
    }),
  };

  async run(): Promise<void> {
    this.argv = withLoadDefault(this.argv);
    const { args, flags } = await this.parse(Build);
    const buildArgs = parseKeyValues(flags['build-arg'], '--build-arg', true);
    const labels = parseKeyValues(flags.label, '--label', false);
    const load = parseLoad(flags.load);
    const outputs = [...(flags.output ?? []).map(parseOutput), ...(load ? [load] : [])];
    if (flags.push && (flags.tag ?? []).length === 0)
      throw new UserError('--push needs at least one -t NAME');
    const isolation = parseIsolation(flags.isolation);
    const compression = flags.compression === 'zstd' ? 'zstd' : 'gzip';
    const allowHostNetwork = parseEntitlements(flags.allow ?? []);
    const network = parseNetwork(flags.network);
    if (network === 'host' && !allowHostNetwork) {
      throw new UserError('--network host needs the network.host entitlement: add --allow network.host');
    }
    const cacheFrom = (flags['cache-from'] ?? []).map(parseCacheFrom);
    const cacheTo = (flags['cache-to'] ?? []).map(parseCacheTo);
    // Checked before building: a typo here must not cost a whole build first.
    const maxStorageFlag = flags['max-storage']
      ? parseSize(flags['max-storage'], '--max-storage')
      : undefined;
    const root = storeRoot(flags.root);
    // Once the flags are checked: stdin or a URL is read and a tar context unpacked only for a build that can run.
    const input = await resolveBuildInput({
      context: args.context,
      file: flags.file,
      root,
      stdin: () => process.stdin,
      warn: (line) => {
        if (!flags.quiet) process.stderr.write(`${line}\n`);
      },
    });
    this.whenDone(() => input.cleanup());
    const { dockerfilePath } = input.options;
    const clientOptions = { insecureRegistries: flags['insecure-registry'] ?? [] };
    const store = await openImageStore(root, {
      namedContexts: parseNamedContexts(flags['build-context']),
      pull: flags.pull,
      clientOptions,
      // A push alone (no --output): the base's layers are fetched only if a step or the push needs them.
      leaveLayersRemote: flags.push && outputs.length === 0,
      onPull: (ref, n) => {
        if (!flags.quiet) process.stderr.write(`pulled ${ref} (${n} blob${n === 1 ? '' : 's'})\n`);
      },
    });
    const tags = (flags.tag ?? []).map((t) => store.normalizeTag(t));

    const collector = new ReportCollector();
    const progress = flags.quiet ? undefined : progressView(progressMode(flags.progress), process.stderr);
    const events: EventSink = (e) => {
      collector.sink(e);
      progress?.onEvent(e);
    };
    const say = (line: string): void => {
      if (!flags.quiet) process.stderr.write(`${line}\n`);
    };
    // Everything this build reads or writes is protected from a concurrent prune until it is tagged and exported.
    const inUse = await markInUse(root);
    // What a killed build left mounted is taken down now, whether or not this build makes a mount of its own.
    await openRunsDir(root);
    try {
      const imported = await loadCacheFrom(cacheFrom, clientOptions, (w) => say(`warning: ${w}`));
      const image = await build({
        root,
        ...input.options,
        buildArgs,
        target: flags.target,
        noCache: flags['no-cache'],
        labels,
        compression,
        sourceDateEpoch: sourceDateEpoch(buildArgs),
        platform: flags.platform ? parsePlatformOption(flags.platform, hostPlatform()) : undefined,
        events,
        inUse,
        resolveImage: (ref, platform) => store.resolve(ref, platform),
        secrets: await readSecrets(flags.secret),
        network,
        allowHostNetwork,
        isolation,
        contextModes: flags['context-modes'] as 'normalize' | 'preserve',
        cacheFrom: imported,
        inlineCache: cacheTo.some((t) => t.location.type === 'inline'),
        // A push alone can take the layers that stayed in a registry cache from there (mounted, not fetched).
        layersMayStayRemote: flags.push && outputs.length === 0,
      });
      progress?.end();
      if (imported.length > 0) say(importSummary(image));

      const pushes = flags.push ? tags.map((name) => ({ type: 'registry' as const, name })) : [];
      // Outputs first: a failed export or push leaves the tags where they were.
      const written = await writeOutputs(
        root,
        image,
        [...outputs, ...pushes],
        tags[0],
        clientOptions,
        compression,
        (engine, r) =>
          say(
            `loaded into ${engine} (${r.layersSent} of ${r.layers} layer${r.layers === 1 ? '' : 's'} sent)` +
              (r.loaded.length > 0 ? `: ${r.loaded.join('; ')}` : ''),
          ),
      );
      // An image whose layers stayed in the registry is whole only there: a local tag would name layers this
      // store does not have, so it is pushed, not tagged here (as `docker buildx build --push` does).
      const local = await imageIsLocal(root, image);
      if (local) for (const tag of tags) await store.tag(tag, image);
      // The build log: the imported caches' builds first (a fresh machine learns the ones before it), then this
      // one, before the export, which carries the latest of them on.
      const logGroup = {
        dockerfile: input.options.dockerfileName,
        target: flags.target?.toLowerCase() ?? '',
      };
      await mergeBuildLog(
        root,
        imported.flatMap((c) =>
          (c.config.builds ?? []).filter(
            (b) => b.dockerfile === logGroup.dockerfile && b.target === logGroup.target,
          ),
        ),
      );
      await appendBuildLog(root, collector.loggedBuild(logGroup, image.durationMs));
      const carried =
        cacheTo.length > 0 ? await carriedBuilds(root, logGroup.dockerfile, logGroup.target) : [];
      await exportCacheTo(root, image, cacheTo, clientOptions, say, compression, carried);
      if (flags.iidfile) await atomicWriteFile(path.resolve(flags.iidfile), image.configDigest);
      const report = collector.build(
        // The manifest an output carries (layers compressed for it) is the one the world sees; the image id is
        // the same either way.
        { name: tags[0] ?? null, manifestDigest: written.digest, configDigest: image.configDigest },
        image.durationMs,
      );
      const markdown = async (): Promise<string> =>
        renderMarkdownReport(report, await loadStepCosts(root, report, dockerfilePath));
      if (flags.report) {
        const text =
          flags['report-format'] === 'markdown' ? await markdown() : `${JSON.stringify(report, null, 2)}\n`;
        await atomicWriteFile(path.resolve(flags.report), text);
      }
      if (process.env.GITHUB_STEP_SUMMARY) await appendStepSummary(await markdown());
      // Keep the store bounded; what this build produced is still marked in use, so it survives.
      const maxStorage = maxStorageFlag ?? (await defaultMaxStorage(root));
      await pruneStore(root, { keepStorage: maxStorage, selfMarker: inUse.path });
      if (flags.quiet) process.stdout.write(`${image.configDigest}\n`);
      else if (tags.length > 0 && local) process.stderr.write(`naming to ${tags.join(', ')}\n`);
      else if (tags.length > 0) {
        process.stderr.write(
          `pushed ${tags.join(', ')}; not tagged here: its layers stayed in the registry ` +
            `(tsbuild pull ${tags[0]} fetches them)\n`,
        );
      }
    } catch (err) {
      progress?.end();
      // What the failing step printed, as BuildKit shows it above the error (all of it with -q, where nothing was).
      for (const failed of collector.unfinished())
        process.stderr.write(failureBlock(failed, flags.quiet ? 'all' : FAILURE_TAIL_LINES));
      const annotation = err instanceof TsbuildError ? errorAnnotation(err) : undefined;
      if (annotation !== undefined) process.stdout.write(`${annotation}\n`);
      throw err;
    } finally {
      await inUse.release();
    }
  }
}

function importSummary(image: BuiltImage): string {
  const { hits, fetched, fetchedBytes } = image.imported;
  const took =
    fetched > 0 ? `; fetched ${fetched} blobs (${formatSize(fetchedBytes)})` : '; fetched no blobs';
  return `cache: ${hits} of ${image.steps} steps hit imported records${took}`;
}

function progressMode(value: string): ProgressMode {
  if (value === 'auto' || value === 'plain' || value === 'tty' || value === 'json') return value;
  throw new UserError(`--progress ${value}: expected auto, plain, tty or json`);
}

/** `--isolation`: refused up front when it cannot be honoured safely, before any step runs. */
function parseIsolation(value: string): NonNullable<BuildOptions['isolation']> {
  if (value === 'auto' || value === 'oci') return value;
  if (value === 'chroot') {
    throw new UserError(
      '--isolation chroot is not offered: a RUN can escape a bare chroot; use --isolation oci (runc or crun)',
    );
  }
  throw new UserError(`--isolation ${value}: expected auto or oci`);
}

function parseNetwork(value: string): NonNullable<BuildOptions['network']> {
  if (value === 'default' || value === 'none' || value === 'host') return value;
  throw new UserError(`--network ${value}: expected default, none or host`);
}

/** `--allow` values; true when network.host is granted. security.insecure is not offered. */
function parseEntitlements(values: readonly string[]): boolean {
  let host = false;
  for (const v of values) {
    if (v === 'network.host') host = true;
    else if (v === 'security.insecure') {
      throw new UserError('--allow security.insecure is not offered: RUN --security=insecure is refused');
    } else throw new UserError(`--allow ${v}: unknown entitlement (network.host is the one there is)`);
  }
  return host;
}
