// The builders under test. Each adapter knows how to set itself up in the bench's work folder, how to prune
// every cache it has while keeping the base image, and how to build. Timing and memory are measured by the
// runner (bench/run.mjs), the same way for all of them.
import { cpSync, promises as fsp, statSync } from 'node:fs';
import * as path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { lastLines, run, startDockerd, unmountUnder } from './env.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function must(r, what) {
  if (r.code !== 0) throw new Error(`${what}: ${lastLines(r.stderr || r.stdout, 3)}`);
  return r.stdout;
}

/** Where the CI scenario's cache and pushed image live, per tool. */
function ciRefs(registryHost, tool) {
  return { cache: `${registryHost}/bench-ci-cache:${tool}`, push: `${registryHost}/bench-ci:${tool}` };
}

/** tsbuild from this checkout (bin/run.js over dist/), with its own store under the work folder. */
export function tsbuild(work, registryHost, bases) {
  const dir = path.join(work, 'tsbuild');
  const root = path.join(dir, 'root');
  const template = path.join(dir, 'store-with-base');
  // tsbuild runs from a snapshot of bin/ and dist/ taken at setup: a rebuild of dist/ during the run (someone
  // running `npm run build` in the same checkout) cannot change the tool half-way through
  const pkg = path.join(dir, 'pkg');
  const cli = path.join(pkg, 'bin', 'run.js');
  // The last run's store is moved aside here and deleted at teardown, not just before the next (timed) build of
  // any tool: on ext4 without a journal (this machine's disk) a create scans past every inode freed in the last
  // minutes of its block group, so deleting thousands of files made the next few builds, docker's too, spend
  // seconds in the kernel (bench/ANALYSIS.md, "Deleted files slow the next build").
  const trash = path.join(dir, 'trash');
  let retired = 0;
  const retire = async () => {
    await fsp.mkdir(trash, { recursive: true });
    await fsp.rename(root, path.join(trash, String(retired++))).catch((err) => {
      if (err.code !== 'ENOENT') throw err;
    });
  };
  return {
    name: 'tsbuild',
    label: 'tsbuild',
    storeRoot: root,
    commands: [],
    rss: 'process',
    notes: [],
    async setup() {
      await fsp.rm(dir, { recursive: true, force: true });
      await fsp.mkdir(pkg, { recursive: true });
      for (const part of ['package.json', 'bin', 'dist'])
        cpSync(path.join(REPO, part), path.join(pkg, part), { recursive: true, preserveTimestamps: true });
      await fsp.symlink(path.join(REPO, 'node_modules'), path.join(pkg, 'node_modules'));
      const built = statSync(path.join(pkg, 'dist', 'cli', 'commands', 'build.js')).mtime.toISOString();
      await fsp.mkdir(template, { recursive: true });
      // A store that holds the base image and nothing else: what every cold run starts from. It is made by
      // a real build of `FROM base` (tsbuild pulls the base from the registry, as a first build would).
      // A base that a RUN stands on is unpacked into its snapshot there, as `docker pull` extracts it.
      const ctx = path.join(dir, 'seed-context');
      await fsp.mkdir(ctx, { recursive: true });
      let r = { code: 0, stderr: '' };
      for (const base of bases) {
        const unpack = base.endsWith('/debian:latest') ? 'RUN true\n' : '';
        await fsp.writeFile(path.join(ctx, 'Dockerfile'), `FROM ${base}\n${unpack}`);
        r = run('node', [cli, 'build', '--root', template, '--insecure-registry', registryHost, '-q', ctx]);
        if (r.code !== 0) break;
      }
      if (r.code !== 0) {
        this.notes.push(
          `could not put the base image into a store beforehand (${lastLines(r.stderr, 2)}); ` +
            'cold runs start from an empty store',
        );
        await fsp.rm(template, { recursive: true, force: true });
        await fsp.mkdir(template, { recursive: true });
      } else {
        // drop the seed build's own records: only the pulled base stays
        await fsp.rm(path.join(template, 'history'), { recursive: true, force: true });
      }
      const version = must(run('node', [cli, '--version']), 'tsbuild --version').trim();
      return `${version} (dist/ built ${built}, snapshot)`;
    },
    async prune() {
      await retire();
      // cp -al: the seed's files hard-linked, not copied (the store never writes a file in place: blobs and
      // snapshots are immutable, everything else is replaced by rename), so a cold run starts, as docker's does,
      // with the base image extracted and warm, and no 180 MB copy of it churning the disk just before it (a
      // plain `cp -a` here made the next RUN's own writes 2-3x slower on this machine). Then sync (untimed).
      must(run('cp', ['-al', '--', template, root]), 'copy the seed store');
      must(run('sync', ['-f', root]), 'sync the seed store');
    },
    // The CI scenario: a registry cache exported once, then every run starts from an empty store (a fresh CI
    // machine: no base image either), imports it, and pushes the image.
    async ciSeed(context) {
      await this.ciFreshStore();
      const seed = [cli, 'build', '--root', root, '--insecure-registry', registryHost, '-q'];
      seed.push('--cache-to', `type=registry,ref=${ciRefs(registryHost, 'tsbuild').cache}`, context);
      must(run('node', seed), 'tsbuild CI seed build');
    },
    async ciFreshStore() {
      await retire();
    },
    command({ context, tag, target, compression, profileDir, ci }) {
      const node = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
      const refs = ciRefs(registryHost, 'tsbuild');
      const args = [...node, cli, 'build', '-t', ci ? refs.push : tag, '--root', root, '--progress', 'plain'];
      args.push('--insecure-registry', registryHost);
      if (ci) args.push('--cache-from', `type=registry,ref=${refs.cache}`, '--push');
      if (target) args.push('--target', target);
      if (compression) args.push('--compression', compression);
      args.push(context);
      return { cmd: process.execPath, args, env: process.env };
    },
    async teardown() {
      await fsp.rm(trash, { recursive: true, force: true });
    },
  };
}

/** BuildKit inside the stock dockerd (Debian's 20.10: default data root and network); the 20.10 client at /usr/bin/docker. */
export function docker(work, registryHost, bases) {
  const dir = path.join(work, 'docker');
  let daemon = null;
  const cli = (args) => run('/usr/bin/docker', args, { env: daemon.env });
  return {
    name: 'docker',
    label: 'BuildKit (docker build, dockerd 20.10)',
    commands: ['/usr/bin/docker', 'dockerd'],
    rss: 'dockerd',
    notes: [],
    get pid() {
      return daemon?.pid;
    },
    async setup() {
      unmountUnder(dir);
      await fsp.rm(dir, { recursive: true, force: true });
      daemon = await startDockerd(dir);
      for (const base of bases) must(cli(['pull', '-q', base]), 'docker pull');
      const v = must(cli(['version', '--format', '{{.Server.Version}}']), 'docker version').trim();
      return `docker ${v} (BuildKit)`;
    },
    async prune() {
      // The stock daemon may hold the user's own images: remove only the bench's, and the build cache.
      const ours = cli(['images', '-q', '--filter', 'reference=bench-*']).stdout.split('\n').filter(Boolean);
      if (ours.length > 0) must(cli(['rmi', '-f', ...new Set(ours)]), 'docker rmi');
      must(cli(['builder', 'prune', '-af']), 'docker builder prune');
      for (const base of bases) must(cli(['pull', '-q', base]), 'docker pull');
    },
    // BuildKit's CI pattern: an image pushed with its inline cache, then `--cache-from` it and push.
    async ciSeed(context) {
      const { cache } = ciRefs(registryHost, 'docker');
      must(
        cli(['build', '-q', '--build-arg', 'BUILDKIT_INLINE_CACHE=1', '-t', cache, context]),
        'docker CI seed',
      );
      must(cli(['push', '-q', cache]), 'docker push (CI seed)');
    },
    async ciFreshStore() {
      // A fresh CI machine: no bench image, no base image, no build cache.
      const refs = ['reference=bench-*', `reference=${registryHost}/*`];
      const ours = refs.flatMap((f) =>
        cli(['images', '-q', '--filter', f]).stdout.split('\n').filter(Boolean),
      );
      if (ours.length > 0) must(cli(['rmi', '-f', ...new Set(ours)]), 'docker rmi');
      must(cli(['builder', 'prune', '-af']), 'docker builder prune');
    },
    command({ context, tag, target, ci }) {
      if (ci) {
        const { cache, push } = ciRefs(registryHost, 'docker');
        const script = `/usr/bin/docker build --progress plain --cache-from ${cache} -t ${push} ${context} && /usr/bin/docker push -q ${push}`;
        return { cmd: '/bin/sh', args: ['-c', script], env: daemon.env };
      }
      const args = ['build', '--progress', 'plain', '-t', tag];
      if (target) args.push('--target', target);
      args.push(context);
      return { cmd: '/usr/bin/docker', args, env: daemon.env };
    },
    async teardown() {
      if (daemon) await daemon.stop();
      daemon = null;
      unmountUnder(dir);
    },
  };
}

/** containers.conf for buildah and podman: rlimits within this machine's, runc (crun refuses hybrid cgroups). */
async function containersConf(dir) {
  const hard = (flag) => run('bash', ['-c', `ulimit -H${flag}`]).stdout.trim();
  const limit = (v) => (v === 'unlimited' || v === '' ? 1048576 : Number(v));
  const nofile = limit(hard('n'));
  // runc fails to set nproc at this machine's hard limit ("rlimit type 6: operation not permitted"); 4096 works
  const nproc = Math.min(limit(hard('u')), 4096);
  const file = path.join(dir, 'containers.conf');
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(
    file,
    [
      '[containers]',
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '[engine]',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      '',
    ].join('\n'),
  );
  return file;
}

/** buildah and podman: the same containers/storage, each in its own root so they never share a cache. */
function containersTool(kind, work, bases) {
  const dir = path.join(work, kind);
  const global = [
    '--root',
    path.join(dir, 'root'),
    '--runroot',
    path.join(dir, 'run'),
    '--storage-driver',
    'overlay',
  ];
  if (kind === 'podman') global.push('--cgroup-manager', 'cgroupfs', '--events-backend', 'file');
  let env = process.env;
  const cli = (args) => run(kind, [...global, ...args], { env });
  return {
    name: kind,
    label: kind === 'buildah' ? 'buildah bud --layers' : 'podman build',
    commands: [kind],
    rss: 'process',
    notes: [],
    async setup() {
      unmountUnder(dir);
      await fsp.rm(dir, { recursive: true, force: true });
      env = { ...process.env, CONTAINERS_CONF: await containersConf(dir) };
      for (const base of bases) must(cli(['pull', '-q', '--tls-verify=false', base]), `${kind} pull`);
      return must(run(kind, ['--version']), `${kind} --version`).trim();
    },
    async prune() {
      if (kind === 'buildah') must(cli(['rm', '--all']), 'buildah rm --all');
      else must(cli(['rm', '-af']), 'podman rm -af');
      must(cli(['rmi', '--all', '--force']), `${kind} rmi --all`);
      for (const base of bases) must(cli(['pull', '-q', '--tls-verify=false', base]), `${kind} pull`);
    },
    command({ context, tag, target }) {
      const args = [...global, kind === 'buildah' ? 'bud' : 'build', '--layers', '--tls-verify=false'];
      args.push('--network', 'host', '-t', tag);
      if (target) args.push('--target', target);
      args.push(context);
      return { cmd: kind, args, env };
    },
    async teardown() {
      // containers left by failed builds keep their rootfs mounted; the storage root is a bind mount
      cli(kind === 'buildah' ? ['rm', '--all'] : ['rm', '-af']);
      unmountUnder(dir);
    },
  };
}

export const buildah = (work, _registryHost, bases) => containersTool('buildah', work, bases);
export const podman = (work, _registryHost, bases) => containersTool('podman', work, bases);

export const TOOLS = { tsbuild, docker, buildah, podman };
