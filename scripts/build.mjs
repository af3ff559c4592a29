// `npm run build`: compile with tsc into dist/, then bundle the CLI into one file so that starting it reads one
// file instead of ~340 modules (issue 7: startup was most of a no-op rebuild).
//
//   dist/**/*.js            tsc's output, as before (the tests and `main` use it)
//   dist/tsbuild.js (.map)  the CLI: @oclif/core, its dependencies and every command, bundled by esbuild from
//                           tsc's output (so it is exactly what tsc emitted; the map leads back to src/*.ts).
//                           It exports oclif's entry points and COMMANDS, oclif's explicit command index, whose
//                           entries load their command's modules on first use.
//   dist/oclif.manifest.json every command's flags, args and help, so that oclif lists and dispatches commands
//                           without loading them: `tsbuild --version` runs none of the commands' code.
//
// bin/run.js loads the bundle through a V8 code cache (dist/tsbuild.js.v8cache) that it writes itself on first use.
// The commands are the files under src/cli/commands (a file `cache/ls.ts` is the command `cache ls`), as with
// oclif's default discovery. tsc's exit status is this script's, but the bundle is made whenever tsc emitted:
// someone else's type error elsewhere must not leave bin/run.js on a stale bundle.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const COMMANDS_SRC = path.join(ROOT, 'src', 'cli', 'commands');
const BUNDLE = path.join(DIST, 'tsbuild.js');
const MANIFEST = path.join(DIST, 'oclif.manifest.json');
const require = createRequire(import.meta.url);

function tsc() {
  const bin = require.resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [bin, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  return r.status ?? 1;
}

/** Command ids from the source tree (not dist/, where a deleted command's output lingers): `cache/ls.ts` → `cache:ls`. */
function commandFiles(dir = COMMANDS_SRC, prefix = []) {
  const out = [];
  for (const entry of fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.isDirectory()) out.push(...commandFiles(path.join(dir, entry.name), [...prefix, entry.name]));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      const parts = [...prefix, entry.name.slice(0, -3)];
      if (parts.at(-1) === 'index') parts.pop();
      out.push({
        id: parts.join(':'),
        file: `./commands/${[...prefix, entry.name.slice(0, -3)].join('/')}.js`,
      });
    }
  }
  return out;
}

/** The bundle's entry: oclif's entry points (one copy of @oclif/core for bin/run.js and the commands) and COMMANDS. */
function entrySource(commands) {
  const getters = commands.map(
    ({ id, file }) => `  get ${JSON.stringify(id)}() { return require(${JSON.stringify(file)}).default; },`,
  );
  return [
    `const oclif = require('@oclif/core');`,
    `module.exports = {`,
    `  Config: oclif.Config, run: oclif.run, flush: oclif.flush, handle: oclif.handle, settings: oclif.settings,`,
    `  COMMANDS: {`,
    ...getters.map((g) => `  ${g}`),
    `  },`,
    `};`,
    '',
  ].join('\n');
}

/** Write a file whole or not at all: a CLI starting meanwhile reads the old bundle or the new one, never half. */
function writeAtomic(file, data) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

async function bundle(commands) {
  const esbuild = require('esbuild');
  const result = await esbuild.build({
    stdin: {
      contents: entrySource(commands),
      resolveDir: path.join(DIST, 'cli'),
      sourcefile: 'cli-entry.js',
    },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: BUNDLE,
    write: false,
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
    // zstd-napi loads a native addon by a computed path; the rest are oclif's development-time TypeScript
    // loaders, never used (bin/run.js turns auto-transpiling off) and not installed in production.
    external: ['zstd-napi', 'typescript', 'ts-node', 'tsx', 'tsx/*', 'pnpapi'],
  });
  for (const file of result.outputFiles) writeAtomic(file.path, file.contents);
  // The code cache of the previous bundle: bin/run.js would notice it no longer matches, but it need not look.
  fs.rmSync(`${BUNDLE}.v8cache`, { force: true });
}

/** oclif's own manifest of the commands, made by oclif from the bundle just written; it must name them all. */
async function manifest(commands) {
  fs.rmSync(MANIFEST, { force: true });
  const { loadConfig } = require(path.join(ROOT, 'bin', 'run.js'));
  const config = await loadConfig(require(BUNDLE));
  const plugin = config.getPluginsList().find((p) => p.isRoot);
  const found = Object.keys(plugin.manifest.commands).sort().join(' ');
  const expected = commands
    .map((c) => c.id)
    .sort()
    .join(' ');
  if (found !== expected) throw new Error(`the bundle has the commands [${found}], not [${expected}]`);
  writeAtomic(MANIFEST, `${JSON.stringify(plugin.manifest, null, 2)}\n`);
}

/**
 * One build at a time in this checkout: test files run `npm run build` in parallel, and esbuild reading a file that
 * another tsc is rewriting would bundle half of it. A lock left by a dead build is taken over.
 */
async function withBuildLock(fn) {
  fs.mkdirSync(DIST, { recursive: true });
  const lock = path.join(DIST, '.build.lock');
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const holder = Number(readOr(lock, '0')); // 0: just created and not yet written, or just released
      if (holder > 0 && !isAlive(holder)) fs.rmSync(lock, { force: true });
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

function readOr(file, fallback) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

const status = await withBuildLock(async () => {
  const tscStatus = tsc();
  const commands = commandFiles();
  try {
    await bundle(commands);
    await manifest(commands);
  } catch (err) {
    // No bundle rather than last time's: bin/run.js must not run code older than what tsc just emitted.
    for (const file of [BUNDLE, `${BUNDLE}.map`, `${BUNDLE}.v8cache`, MANIFEST])
      fs.rmSync(file, { force: true });
    console.error(
      err.errors === undefined ? err : 'build: esbuild failed (see above); dist/tsbuild.js removed',
    );
    return 1;
  }
  return tscStatus;
});
process.exit(status);
