// tsbuild's benchmark against BuildKit, buildah and podman (issue 7). `npm run bench -- --help` for flags.
//
// Every scenario runs for every tool; a tool that fails a scenario is reported as failed with its error.
// Runs alternate between tools (the order rotates every round), a warm-up round comes first, and the
// report gives medians, min–max and peak RSS, ratios tsbuild/peer, and the machine's own limits measured in
// the same run (tar | pigz, tar | zstd -T0, sha256sum).
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, promises as fsp, readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import {
  cpuTimes,
  ensureCommands,
  lastLines,
  log,
  machine,
  procMemory,
  pushBaseImage,
  resetPeak,
  run,
  startRegistry,
} from './env.mjs';
import * as fixtures from './fixtures.mjs';
import { summarizeProfiles } from './profile.mjs';
import { storeFootprint } from './store-size.mjs';
import { renderMarkdown } from './report.mjs';
import { TOOLS } from './tools.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');

const USAGE = `usage: npm run bench -- [flags]

  --quick            small fixtures and 3 runs: for trying the harness out, not a result
  --runs N           measured runs per tool and scenario (default 5; --quick: 3), after one warm-up
  --tools LIST       comma-separated subset of tsbuild,docker,buildah,podman (default: all)
  --fixtures LIST    comma-separated subset of node-like,large,multistage (default: all)
  --work DIR         scratch folder for fixtures, stores and daemons (default: $TMPDIR/tsbuild-bench)
  --no-install       do not apt-get install missing peers and tools (they are reported as missing)
  --build            run \`npm run build\` first (otherwise dist/ is used as it is)
  --profile          one extra, unmeasured tsbuild run per scenario with --cpu-prof; summarized in the report
  --timeout SEC      per build (default 900; --quick: 300)
  --no-markdown      write the JSON result only, leave bench/RESULTS.md alone
`;

function parseArgs(argv) {
  const o = {
    quick: false,
    runs: null,
    tools: Object.keys(TOOLS),
    fixtures: ['node-like', 'large', 'multistage', 'debian-layers', 'compile-like'],
    work: path.join(os.tmpdir(), 'tsbuild-bench'),
    install: true,
    build: false,
    profile: false,
    timeout: null,
    markdown: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--runs') o.runs = Number(value());
    else if (a === '--tools') o.tools = value().split(',');
    else if (a === '--fixtures') o.fixtures = value().split(',');
    else if (a === '--work') o.work = path.resolve(value());
    else if (a === '--no-install') o.install = false;
    else if (a === '--build') o.build = true;
    else if (a === '--profile') o.profile = true;
    else if (a === '--timeout') o.timeout = Number(value());
    else if (a === '--no-markdown') o.markdown = false;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else throw new Error(`unknown flag ${a}\n${USAGE}`);
  }
  o.runs ??= o.quick ? 3 : 5;
  o.timeout ??= o.quick ? 300 : 900;
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs must be a positive integer');
  for (const t of o.tools) if (!TOOLS[t]) throw new Error(`unknown tool ${t}`);
  for (const f of o.fixtures)
    if (!['node-like', 'large', 'multistage', 'debian-layers', 'compile-like'].includes(f))
      throw new Error(`unknown fixture ${f}`);
  return o;
}

// ---------------------------------------------------------------- measuring one command

/**
 * Runs one build under /usr/bin/time: wall time, peak RSS (of the process tree's largest process, or
 * dockerd's growth for docker), success, and the error lines on failure. Output goes to a log file.
 */
async function measure(tool, spec, logFile, timeoutSec) {
  // Every build starts with the disk quiet (untimed): the previous build's dirty pages, whichever tool wrote them,
  // are flushed now rather than during this one. Without it, a 120 MB layer written by one tool was written back
  // on the next tool's clock (tsbuild's Debian cold build measured 2.5 s alone, 4-6 s right after docker's).
  spawnSync('sync');
  const { cmd, args, env } = tool.command(spec);
  const rssFile = `${logFile}.rss`;
  const out = createWriteStream(logFile);
  out.write(`$ ${cmd} ${args.join(' ')}\n`);
  let dockerBase = null;
  if (tool.rss === 'dockerd' && tool.pid) {
    resetPeak(tool.pid);
    dockerBase = procMemory(tool.pid).rssKB;
  }
  const started = process.hrtime.bigint();
  const child = spawn('/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...args], {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk) => {
    out.write(chunk);
    tail = (tail + chunk.toString()).slice(-8000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, timeoutSec * 1000);
  const code = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  clearTimeout(timer);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await new Promise((r) => out.end(r));
  let rssKB = null;
  if (tool.rss === 'dockerd') {
    const peak = procMemory(tool.pid).hwmKB;
    rssKB = Number.isFinite(peak) && Number.isFinite(dockerBase) ? Math.max(0, peak - dockerBase) : null;
  } else if (existsSync(rssFile)) {
    const n = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
    rssKB = Number.isFinite(n) ? n : null;
  }
  const ok = code === 0 && !timedOut;
  const result = { ms: Math.round(ms), rssKB, ok, log: logFile };
  if (!ok) result.error = timedOut ? `timed out after ${timeoutSec}s` : errorLines(tail);
  return result;
}

/** The lines that say why a build failed (tool-specific noise trimmed). */
function errorLines(text) {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Command exited with non-zero status/.test(l));
  // progress lines ("[stage 2/4] …", "#5 …", "STEP 2/4: …", "$ command") are context, not the cause
  const progress = /^(\[|#\d|STEP \d|\$ |-->|COMMIT|Getting image|Copying|Writing|Storing)/;
  const plain = lines.filter((l) => !progress.test(l));
  const marked = plain.filter((l) => /error|failed|not supported|does not|Dockerfile:\d+/i.test(l));
  const short = (l) => (l.length > 240 ? `${l.slice(0, 120)} … ${l.slice(-110)}` : l);
  const pick = marked.length > 0 ? marked : plain.length > 0 ? plain : lines;
  return pick.slice(-2).map(short).join(' | ');
}

async function timeShell(script) {
  const started = process.hrtime.bigint();
  const r = await new Promise((resolve) => {
    const c = spawn('bash', ['-o', 'pipefail', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => resolve({ code, err }));
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.code !== 0) throw new Error(`${script}: ${lastLines(r.err, 2)}`);
  return Math.round(ms);
}

// ---------------------------------------------------------------- statistics

export function stats(values) {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], n: s.length };
}

function summarize(entry) {
  const ok = entry.runs.filter((r) => r.ok);
  entry.ok = ok.length;
  entry.failed = entry.runs.length - ok.length;
  entry.time = stats(ok.map((r) => r.ms));
  entry.rss = stats(ok.map((r) => r.rssKB).filter((v) => Number.isFinite(v)));
  const errors = [...new Set([entry.warmup, ...entry.runs].filter((r) => r && !r.ok).map((r) => r.error))];
  entry.errors = errors;
  entry.status = entry.failed === 0 ? 'ok' : ok.length === 0 ? 'failed' : 'partly failed';
}

// ---------------------------------------------------------------- scenarios

/**
 * The scenarios of issue 7. `once(tool, state)` performs one measured unit (setup untimed, then the build
 * or builds, timed) and returns { ms, rssKB, ok, error, parts? }.
 */
/** Fixtures the scenarios edit: each tool builds its own copy. */
const EDITED_FIXTURES = ['node-like', 'debian-layers', 'compile-like'];

function scenarios(ctx) {
  const ciSeeded = new Set();
  const build = (tool, fixture, extra = {}) =>
    measure(
      tool,
      { context: ctx.contextFor(tool, fixture), tag: `bench-${fixture}:latest`, ...extra },
      ctx.logFile(tool, fixture, extra.target),
      ctx.timeout,
    );
  const edit =
    (mutate, fixture = 'node-like') =>
    async (tool, state) => {
      await mutate(ctx.contextFor(tool, fixture), state.nextEdit());
      return build(tool, fixture, state.extra);
    };
  const cold =
    (fixture, extra = {}) =>
    async (tool, state) => {
      await tool.prune();
      return build(tool, fixture, { ...extra, ...state.extra });
    };
  const list = [
    {
      id: 'node-like/cold',
      fixture: 'node-like',
      what: 'all caches pruned (base image kept), full build',
      fresh: true,
      once: cold('node-like'),
    },
    {
      id: 'node-like/no-op',
      fixture: 'node-like',
      what: 'rebuild with nothing changed',
      once: (tool, state) => build(tool, 'node-like', state.extra),
    },
    {
      id: 'node-like/edit-source',
      fixture: 'node-like',
      what: `one source file edited (${fixtures.EDITED_SOURCE}), rebuild`,
      once: edit(fixtures.editSource),
    },
    {
      id: 'node-like/edit-manifest',
      fixture: 'node-like',
      what: 'one dependency version bumped in package.json, rebuild (the RUN reruns)',
      // the store as these builds left it, against the layers it holds (issue 12)
      footprint: true,
      once: edit(fixtures.editManifest),
    },
    {
      id: 'node-like/ci-push',
      fixture: 'node-like',
      what: 'CI: an empty store (no base image), the registry cache of an earlier build (tsbuild --cache-to type=registry; docker: the image pushed with its inline cache), nothing changed, build and push',
      only: ['tsbuild', 'docker'],
      once: async (tool, state) => {
        if (!ciSeeded.has(tool.name)) {
          await tool.ciSeed(ctx.contextFor(tool, 'node-like'));
          ciSeeded.add(tool.name);
        }
        await tool.ciFreshStore();
        return build(tool, 'node-like', { ...state.extra, ci: true });
      },
    },
    {
      id: 'large/cold',
      fixture: 'large',
      what: 'all caches pruned, FROM scratch + COPY . /data (gzip layers where the tool compresses)',
      once: cold('large'),
    },
    {
      id: 'large/cold-zstd',
      fixture: 'large',
      what: 'as large/cold with --compression zstd (tsbuild only: the peers store layers uncompressed)',
      only: ['tsbuild'],
      once: cold('large', { compression: 'zstd' }),
    },
    {
      id: 'large/no-op',
      fixture: 'large',
      what: 'rebuild with nothing changed',
      once: (tool, state) => build(tool, 'large', state.extra),
    },
    {
      id: 'multistage/cold',
      fixture: 'multistage',
      what: 'all caches pruned, the whole graph (three independent builder stages and the final one)',
      once: cold('multistage'),
    },
    {
      id: 'multistage/stages-one-by-one',
      fixture: 'multistage',
      what: 'all caches pruned, then --target each builder stage in turn, then the final stage: the sum',
      once: async (tool, state) => {
        await tool.prune();
        const parts = [];
        for (const target of [...ctx.stages, undefined]) {
          const r = await build(tool, 'multistage', { ...state.extra, target });
          parts.push(r);
          if (!r.ok) break;
        }
        const failed = parts.find((p) => !p.ok);
        return {
          ms: parts.reduce((a, p) => a + p.ms, 0),
          rssKB: Math.max(...parts.map((p) => p.rssKB ?? 0)),
          ok: !failed,
          ...(failed ? { error: failed.error } : {}),
          parts: parts.map((p) => p.ms),
          log: parts[0]?.log,
        };
      },
    },
    {
      id: 'debian-layers/cold',
      fixture: 'debian-layers',
      what: 'all caches pruned (base image kept, unpacked as a pull leaves it): a 120 MB RUN, a small RUN, COPY --chown=NAME, a COPY --from stage',
      fresh: true,
      once: cold('debian-layers'),
    },
    {
      id: 'debian-layers/small-steps',
      fixture: 'debian-layers',
      what: 'the file COPY --chown=NAME reads edited: the steps after the 120 MB layer rerun',
      // the store as these builds left it, against the layers it holds (issue 12)
      footprint: true,
      once: edit(fixtures.editDebianLayers, 'debian-layers'),
    },
    {
      id: 'compile-like/cold',
      fixture: 'compile-like',
      what: 'all caches pruned: a Debian builder stage processing 200 sources, a busybox final stage copying the result',
      fresh: true,
      once: cold('compile-like'),
    },
    {
      id: 'compile-like/edit-source',
      fixture: 'compile-like',
      what: `one source line edited (${fixtures.COMPILED_EDIT}), rebuild`,
      // the store as these builds left it, against the layers it holds (issue 12)
      footprint: true,
      once: edit(fixtures.editCompileLike, 'compile-like'),
    },
  ];
  return list.filter((s) => ctx.fixtures.includes(s.fixture));
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const cpu0 = cpuTimes();
  const result = {
    schema: 'tsbuild-bench/1',
    quick: opts.quick,
    runs: opts.runs,
    startedAt: startedAt.toISOString(),
    machine: machine(),
    git: gitInfo(),
    tools: {},
    fixtures: {},
    limits: {},
    scenarios: [],
    notes: [],
  };
  await fsp.mkdir(opts.work, { recursive: true });
  const cleanup = [];
  const stopAll = async () => {
    while (cleanup.length)
      await cleanup
        .pop()()
        .catch((e) => log(`cleanup: ${e.message}`));
  };
  const onSignal = (sig) => {
    log(`${sig}: stopping daemons`);
    stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // 1. tools of the harness itself, then the peers (installed from Debian when missing)
    const infra = ensureCommands(
      [
        '/usr/bin/time',
        'pigz',
        'zstd',
        'sha256sum',
        'umoci',
        'skopeo',
        'file',
        '/bin/busybox',
        'docker-registry',
        'runc',
      ],
      { install: opts.install },
    );
    if (Object.keys(infra).length > 0)
      throw new Error(
        `the harness needs: ${Object.entries(infra)
          .map(([c, why]) => `${c} (${why})`)
          .join('; ')}`,
      );
    if (opts.build) {
      log('npm run build');
      const r = run('npm', ['run', 'build'], { cwd: REPO });
      if (r.code !== 0) throw new Error(`npm run build failed: ${lastLines(r.stdout + r.stderr, 5)}`);
    }
    if (!existsSync(path.join(REPO, 'dist', 'cli', 'commands', 'build.js')))
      throw new Error('dist/ is missing: run `npm run build` (or pass --build)');
    const stale = distIsStale();
    if (stale)
      result.notes.push(
        `dist/ was older than ${stale} when this ran: tsbuild may not be the checked-out code`,
      );

    // 2. the registry and the base image every tool starts from
    log('starting docker-registry and pushing the busybox base image');
    const registry = await startRegistry(path.join(opts.work, 'registry'));
    cleanup.push(registry.stop);
    const baseRef = pushBaseImage(opts.work, registry.host);
    result.baseImage = baseRef;
    // The realistic base (issue 12): Debian, ~120 MB in ~6,000 files, for the fixtures that stand on it.
    const needsDebian = opts.fixtures.some((f) => f === 'debian-layers' || f === 'compile-like');
    const debianRef = needsDebian ? pushBaseImage(opts.work, registry.host, 'debian') : undefined;
    const bases = debianRef ? [baseRef, debianRef] : [baseRef];

    // 3. fixtures (generated fresh: deterministic, nothing large in git)
    const size = opts.quick ? fixtures.SIZES.quick : fixtures.SIZES.default;
    const fx = path.join(opts.work, 'fixtures');
    log(`generating fixtures in ${fx}`);
    const gen = {
      'node-like': () => fixtures.generateNodeLike(path.join(fx, 'node-like'), baseRef, size.nodeLike),
      large: () => fixtures.generateLarge(path.join(fx, 'large'), size.large),
      multistage: () => fixtures.generateMultistage(path.join(fx, 'multistage'), baseRef, size.multistage),
      'debian-layers': () =>
        fixtures.generateDebianLayers(path.join(fx, 'debian-layers'), debianRef, baseRef),
      'compile-like': () => fixtures.generateCompileLike(path.join(fx, 'compile-like'), debianRef, baseRef),
    };
    for (const f of opts.fixtures) {
      const d = await gen[f]();
      result.fixtures[f] = { ...d, dir: undefined };
    }

    // 4. the tools: set up each, or record why it is missing
    const tools = [];
    for (const name of opts.tools) {
      const tool = TOOLS[name](opts.work, registry.host, bases);
      const missing = ensureCommands(tool.commands, { install: opts.install });
      if (Object.keys(missing).length > 0) {
        result.tools[name] = {
          label: tool.label,
          available: false,
          reason: Object.values(missing).join('; '),
        };
        log(`${name}: missing (${result.tools[name].reason})`);
        continue;
      }
      try {
        log(`setting up ${name}`);
        cleanup.push(() => tool.teardown());
        const version = await tool.setup();
        result.tools[name] = { label: tool.label, available: true, version, notes: tool.notes };
        tools.push(tool);
      } catch (e) {
        result.tools[name] = { label: tool.label, available: false, reason: `setup failed: ${e.message}` };
        log(`${name}: setup failed: ${e.message}`);
      }
    }

    // 5. the machine's limits, measured now, in the same window as the builds
    if (opts.fixtures.includes('large')) result.limits = await measureLimits(path.join(fx, 'large'), opts);

    // 6. the scenarios, tools alternating
    const contexts = path.join(opts.work, 'contexts');
    const logs = path.join(opts.work, 'logs', startedAt.toISOString().replace(/[:.]/g, '-'));
    await fsp.mkdir(logs, { recursive: true });
    result.logs = logs;
    let logSeq = 0;
    const ctx = {
      fixtures: opts.fixtures,
      timeout: opts.timeout,
      stages: result.fixtures.multistage?.stages ?? [],
      contextFor: (tool, fixture) =>
        EDITED_FIXTURES.includes(fixture) ? path.join(contexts, tool.name, fixture) : path.join(fx, fixture),
      logFile: (tool, fixture, target) =>
        path.join(
          logs,
          `${String(++logSeq).padStart(4, '0')}-${fixture}-${tool.name}${target ? `-${target}` : ''}.log`,
        ),
    };
    for (const tool of tools) {
      // the fixtures the scenarios edit: every tool gets its own copy
      for (const fixture of EDITED_FIXTURES) {
        const own = ctx.contextFor(tool, fixture);
        await fsp.rm(own, { recursive: true, force: true });
        await fsp.mkdir(path.dirname(own), { recursive: true });
        if (opts.fixtures.includes(fixture)) await fsp.cp(path.join(fx, fixture), own, { recursive: true });
      }
    }
    const editCounters = new Map(tools.map((t) => [t.name, 0]));
    const warmed = new Set();
    for (const sc of scenarios(ctx)) {
      const entry = { id: sc.id, fixture: sc.fixture, what: sc.what, tools: {} };
      result.scenarios.push(entry);
      const these = tools.filter((t) => !sc.only || sc.only.includes(t.name));
      for (const name of opts.tools) {
        if (sc.only && !sc.only.includes(name)) continue;
        if (!these.find((t) => t.name === name))
          entry.tools[name] = { status: 'missing', reason: result.tools[name]?.reason ?? 'not set up' };
        else entry.tools[name] = { warmup: null, runs: [] };
      }
      // one warm-up round per fixture (its first scenario): later scenarios follow runs of the same fixture
      const firstRound = warmed.has(sc.fixture) ? 1 : 0;
      warmed.add(sc.fixture);
      for (let round = firstRound; round <= opts.runs; round++) {
        const order = these.map((_, i) => these[(i + round) % these.length]);
        for (const tool of order) {
          const state = {
            extra: {},
            nextEdit: () => {
              const n = editCounters.get(tool.name) + 1;
              editCounters.set(tool.name, n);
              return n;
            },
          };
          let r;
          try {
            r = await sc.once(tool, state);
          } catch (e) {
            r = { ms: null, rssKB: null, ok: false, error: `harness: ${e.message}` };
          }
          const label = round === 0 ? 'warm-up' : `run ${round}/${opts.runs}`;
          log(
            `${sc.id} ${tool.name} ${label}: ${r.ok ? `${(r.ms / 1000).toFixed(2)}s` : `FAILED ${r.error}`}`,
          );
          if (round === 0) entry.tools[tool.name].warmup = r;
          else entry.tools[tool.name].runs.push(r);
        }
      }
      for (const tool of these) summarize(entry.tools[tool.name]);
      const ts = these.find((t) => t.name === 'tsbuild');
      if (sc.footprint && ts) entry.storeFootprint = await storeFootprint(ts.storeRoot);
      if (opts.profile) {
        const ts = these.find((t) => t.name === 'tsbuild');
        if (ts) entry.profile = await profileOnce(sc, ts, opts, entry.id);
      }
      await writeResult(result, opts, startedAt, cpu0, false);
    }
  } catch (e) {
    result.fatal = e.message;
    log(`fatal: ${e.message}`);
  } finally {
    await stopAll();
  }
  const file = await writeResult(result, opts, startedAt, cpu0, true);
  log(`wrote ${path.relative(REPO, file)}${opts.markdown ? ' and bench/RESULTS.md' : ''}`);
  if (result.fatal) process.exitCode = 1;
}

/** One unmeasured tsbuild run with --cpu-prof, summarized (self time by function and by file). */
async function profileOnce(sc, tool, opts, id) {
  const dir = path.join(opts.work, 'profiles', id.replace('/', '-'));
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true });
  const wrapped = { ...tool, command: (spec) => tool.command({ ...spec, profileDir: dir }) };
  const state = { extra: {}, nextEdit: () => 100000 + Math.floor(Math.random() * 1e6) };
  const r = await sc.once(wrapped, state).catch((e) => ({ ok: false, error: e.message }));
  return { ok: r.ok, ms: r.ms, error: r.error, ...(await summarizeProfiles(dir, REPO)) };
}

/** tar|pigz, tar|zstd -T0, plain tar, sha256sum and a stat walk of the large context, alternating. */
async function measureLimits(dir, opts) {
  log('measuring machine limits (tar | pigz, tar | zstd -T0, sha256sum, stat walk)');
  const blob = path.join(opts.work, 'limits', 'large.tar');
  await fsp.mkdir(path.dirname(blob), { recursive: true });
  await timeShell(`tar -C '${dir}' -cf '${blob}' .`);
  const bytes = statSync(blob).size;
  const probes = {
    tarPigz: {
      what: 'tar c | pigz (gzip -6, all cores) of the large context',
      cmd: `tar -C '${dir}' -cf - . | pigz -6 > /dev/null`,
    },
    tarZstd: {
      what: 'tar c | zstd -3 -T0 of the large context',
      cmd: `tar -C '${dir}' -cf - . | zstd -q -3 -T0 > /dev/null`,
    },
    tar: { what: 'tar c of the large context, no compression', cmd: `tar -C '${dir}' -cf - . > /dev/null` },
    sha256sum: {
      what: `sha256sum of a ${Math.round(bytes / 1048576)} MB file (page cache warm)`,
      cmd: `sha256sum '${blob}' > /dev/null`,
    },
    nodeSha256: {
      what: `node crypto sha256 of the same file, streamed (what tsbuild hashes with)`,
      cmd: `'${process.execPath}' -e "const h=require('crypto').createHash('sha256');require('fs').createReadStream(process.argv[1]).on('data',(d)=>h.update(d)).on('end',()=>h.digest())" '${blob}'`,
    },
    statWalk: {
      what: 'find -printf size/mtime/inode of every file of the large context',
      cmd: `find '${dir}' -printf '%s %T@ %i\\n' > /dev/null`,
    },
  };
  const times = Object.fromEntries(Object.keys(probes).map((k) => [k, []]));
  const rounds = 3;
  for (let i = 0; i < rounds; i++)
    for (const [k, p] of Object.entries(probes)) times[k].push(await timeShell(p.cmd));
  await fsp.rm(blob, { force: true });
  const out = { bytes };
  for (const [k, p] of Object.entries(probes)) {
    out[k] = { what: p.what, ms: times[k], time: stats(times[k]) };
    if (k !== 'statWalk') out[k].MBps = Math.round(bytes / 1048576 / (out[k].time.median / 1000));
  }
  return out;
}

async function writeResult(result, opts, startedAt, cpu0, final) {
  const cpu1 = cpuTimes();
  const dt = cpu1.total - cpu0.total;
  result.finishedAt = new Date().toISOString();
  result.durationSec = Math.round((Date.now() - startedAt.getTime()) / 1000);
  result.cpuStealPercent = dt > 0 ? Math.round(((cpu1.steal - cpu0.steal) / dt) * 1000) / 10 : null;
  const dir = path.join(HERE, 'results');
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(
    dir,
    `${startedAt.toISOString().replace(/[:.]/g, '-')}${opts.quick ? '-quick' : ''}.json`,
  );
  await fsp.writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  const written = [file];
  if (final && opts.markdown) {
    const analysis = await fsp.readFile(path.join(HERE, 'ANALYSIS.md'), 'utf8').catch(() => '');
    await fsp.writeFile(
      path.join(HERE, 'RESULTS.md'),
      renderMarkdown(result, path.relative(HERE, file), analysis),
    );
    written.push(path.join(HERE, 'RESULTS.md'));
  }
  if (final) formatWithPrettier(written);
  return file;
}

/** The results are committed: format them as the repository's `prettier --check .` expects. */
function formatWithPrettier(files) {
  const bin = path.join(REPO, 'node_modules', '.bin', 'prettier');
  if (!existsSync(bin)) return;
  const r = run(bin, ['--write', '--log-level', 'warn', ...files], { cwd: REPO });
  if (r.code !== 0) log(`prettier: ${lastLines(r.stderr, 2)}`);
}

function gitInfo() {
  const commit = run('git', ['rev-parse', 'HEAD'], { cwd: REPO }).stdout.trim();
  const dirty = run('git', ['status', '--porcelain', '--', 'src', 'bin'], { cwd: REPO }).stdout.trim() !== '';
  return { commit, dirtySrc: dirty };
}

/** The newest src/ file if it is newer than dist/'s build command (a stale build would be benchmarked). */
function distIsStale() {
  const built = statSync(path.join(REPO, 'dist', 'cli', 'commands', 'build.js')).mtimeMs;
  const r = run('find', [
    path.join(REPO, 'src'),
    '-name',
    '*.ts',
    '-newermt',
    `@${Math.floor(built / 1000) + 1}`,
  ]);
  const newer = r.stdout.trim().split('\n').filter(Boolean);
  return newer.length > 0 ? path.relative(REPO, newer[0]) : null;
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
