#!/usr/bin/env node
// The tsbuild command. `build` is the default command, so `tsbuild -t app .` works like `docker build -t app .`:
// when the first word is neither a command, a topic nor a help/version flag, `build` is put in front of it.
//
// Starting fast is most of a no-op rebuild (issue 7), so this file loads as little as it can:
// - the CLI is one file, dist/tsbuild.js, bundled by scripts/build.mjs (oclif and every command; a command's
//   modules run only when that command does), with oclif's manifest of the commands beside it in dist/ — which is
//   why oclif is given dist/ as its root and package.json as its pjson;
// - the bundle is compiled through a V8 code cache, dist/tsbuild.js.v8cache, which this file writes on first use
//   (and rewrites when V8 rejects it, when the bundle changes, or on the first `build` after another command wrote
//   it: a build runs the most code). Where dist/ is not writable the CLI just starts without it.
// A bug's stack trace (printed with TSBUILD_DEBUG=1) is mapped through dist/tsbuild.js.map back to src/*.ts.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const BUNDLE = path.join(DIST, 'tsbuild.js');
const CODE_CACHE = `${BUNDLE}.v8cache`;
const CACHE_MAGIC = 'tsbuild-v8cache 1';

/**
 * Load the bundle as Node would load a CommonJS module, but compiled with V8's cached data when we have some for
 * exactly this file. The cache is keyed by the bundle's size, mtime and inode, read from the same descriptor as
 * its bytes; V8 itself rejects data from another V8 version or other flags.
 */
function loadBundle() {
  const vm = require('node:vm');
  const Module = require('node:module');
  let bytes;
  let key;
  const fd = fs.openSync(BUNDLE, 'r');
  try {
    const st = fs.fstatSync(fd);
    key = `${CACHE_MAGIC} ${st.size} ${st.mtimeMs} ${st.ino}`;
    bytes = fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  const source = bytes.toString('utf8');
  const cached = readCodeCache(key);
  const script = new vm.Script(Module.wrap(source), {
    filename: BUNDLE,
    cachedData: cached?.data,
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const mod = new Module(BUNDLE, module);
  mod.filename = BUNDLE;
  // oclif requires the command index (the bundle itself) by path: it must find this instance.
  require.cache[BUNDLE] = mod;
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(BUNDLE), mod, BUNDLE, DIST);
  mod.loaded = true;
  const stale = cached === undefined || script.cachedDataRejected === true;
  /** Write the cache at exit if it is missing or stale, or came from a lighter command than this `build`. */
  const saveCodeCacheFor = (command) => {
    if (stale || (cached.command !== 'build' && command === 'build')) {
      process.once('exit', () => writeCodeCache(key, command, script));
    }
  };
  return { cli: mod.exports, saveCodeCacheFor };
}

/** The cached data for the bundle with this key, and the command whose run wrote it; else undefined. */
function readCodeCache(key) {
  let buf;
  try {
    buf = fs.readFileSync(CODE_CACHE);
  } catch {
    return undefined;
  }
  const eol = buf.indexOf(10);
  if (eol < 0) return undefined;
  const header = buf.toString('latin1', 0, eol);
  if (!header.startsWith(`${key} `)) return undefined;
  return { command: header.slice(key.length + 1), data: buf.subarray(eol + 1) };
}

/** At exit, when the functions this run needed are compiled: atomically, so that readers see all or nothing. */
function writeCodeCache(key, command, script) {
  const tmp = `${CODE_CACHE}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(
      tmp,
      Buffer.concat([Buffer.from(`${key} ${command}\n`, 'latin1'), script.createCachedData()]),
    );
    fs.renameSync(tmp, CODE_CACHE);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}

/** oclif's config: rooted in dist/ (the manifest), with package.json's paths, which are the package's, made absolute. */
async function loadConfig(cli) {
  cli.settings.enableAutoTranspile = false; // never look for ts-node/tsx/typescript, even under NODE_ENV=test
  const pjson = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const commands = { ...pjson.oclif.commands, target: path.resolve(ROOT, pjson.oclif.commands.target) };
  // userPlugins: tsbuild has no plugins, and oclif would look for them in its data dir, which is our store's default.
  return cli.Config.load({
    root: DIST,
    pjson: { ...pjson, oclif: { ...pjson.oclif, commands } },
    userPlugins: false,
  });
}

/** Rewrite frames in the bundle (`…/dist/tsbuild.js:L:C`) to the source they came from. */
function mapStack(stack) {
  const { SourceMap } = require('node:module');
  let map;
  try {
    map = new SourceMap(JSON.parse(fs.readFileSync(`${BUNDLE}.map`, 'utf8')));
  } catch {
    return stack;
  }
  return stack.replaceAll(`${BUNDLE}:`, '\0').replace(/\0(\d+):(\d+)/g, (_frame, line, column) => {
    const entry = map.findEntry(Number(line) - 1, Number(column) - 1);
    if (entry?.originalSource === undefined) return `${BUNDLE}:${line}:${column}`;
    return `${path.resolve(DIST, entry.originalSource)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

async function main(argv) {
  const passThrough = ['--help', '-h', '--version', '-v', 'help'];
  const { cli, saveCodeCacheFor } = loadBundle();
  try {
    const config = await loadConfig(cli);
    const first = argv[0];
    if (
      first !== undefined &&
      !passThrough.includes(first) &&
      !config.findCommand(first) &&
      !config.findTopic(first)
    ) {
      argv = ['build', ...argv];
    }
    saveCodeCacheFor(
      argv[0] === 'build' && !argv.includes('--help') && !argv.includes('-h') ? 'build' : 'other',
    );
    await cli.run(argv, config);
    await cli.flush();
  } catch (err) {
    if (cli.settings.debug && err instanceof Error && typeof err.stack === 'string')
      err.stack = mapStack(err.stack);
    await cli.handle(err);
  }
}

/**
 * Rootless builds (issue 17): a user who is not root runs tsbuild inside a user namespace of its own, in which it
 * is root with the user's subordinate ids (`/etc/subuid`, `/etc/subgid`, through Debian's newuidmap/newgidmap, as
 * podman does) mapped to 1…65535, and a mount namespace of its own: overlay mounts, chown to any id and the OCI
 * runtime work there as for root, and files keep the owners a rootful build gives them. Done here, before the
 * bundle loads, by running this file again under `unshare`. Returns the child's exit code, or undefined when this
 * process is to go on itself (root already, or the namespaced child).
 */
async function runRootless(argv) {
  if (typeof process.getuid !== 'function' || process.getuid() === 0) return undefined;
  if (process.env.TSBUILD_USERNS === '1') return undefined;
  const first = argv[0];
  if (first === undefined || ['--help', '-h', '--version', '-v', 'help', 'parse'].includes(first))
    return undefined;
  const { spawn, spawnSync } = require('node:child_process');
  const ranges = hasSubordinateIds();
  const map = ranges ? ['--map-auto', '--map-root-user'] : ['--map-root-user'];
  const probe = spawnSync('unshare', ['--user', ...map, 'true'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : (probe.stderr || '').trim().split('\n').pop();
    console.error(
      `tsbuild: not root, and a user namespace cannot be made here (${why}): run as root, or where user ` +
        'namespaces and the setuid newuidmap work (an unprivileged container or no_new_privs forbids them)',
    );
    return 1;
  }
  if (!ranges) {
    console.error(
      'tsbuild: warning: no range for this user in /etc/subuid and /etc/subgid: only root is mapped, so files ' +
        'owned by other ids (chown, COPY --chown, package installs) cannot be made',
    );
  }
  const child = spawn(
    'unshare',
    ['--user', ...map, '--mount', '--propagation', 'private', process.execPath, __filename, ...argv],
    { stdio: 'inherit', env: { ...process.env, TSBUILD_USERNS: '1' } },
  );
  // Ctrl-C reaches the child from the terminal (same process group): this process only waits for its end. A
  // SIGTERM or SIGHUP sent to this process alone is passed on.
  process.on('SIGINT', () => undefined);
  for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => {
    child.on('exit', (code, signal) =>
      resolve(code ?? (signal ? 128 + (require('node:os').constants.signals[signal] ?? 0) : 1)),
    );
    child.on('error', (err) => {
      console.error(`tsbuild: cannot run unshare: ${err.message}`);
      resolve(1);
    });
  });
}

/** Whether /etc/subuid and /etc/subgid both give this user a range (by name or by uid). */
function hasSubordinateIds() {
  const os = require('node:os');
  const names = new Set([String(process.getuid()), os.userInfo().username]);
  const has = (file) => {
    try {
      return fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .some((line) => names.has(line.split(':')[0]));
    } catch {
      return false;
    }
  };
  return has('/etc/subuid') && has('/etc/subgid');
}

if (require.main === module) {
  runRootless(process.argv.slice(2))
    .then((code) => {
      if (code !== undefined) process.exit(code);
      return main(process.argv.slice(2));
    })
    .catch((err) => {
      // Only when the bundle itself cannot be loaded: oclif's handle() takes every other error.
      if (err?.code === 'ENOENT' && err.path === BUNDLE) {
        console.error(`tsbuild: ${BUNDLE} is missing: run \`npm run build\``);
      } else console.error(err);
      process.exit(1);
    });
} else {
  module.exports = { loadConfig, mapStack };
}
