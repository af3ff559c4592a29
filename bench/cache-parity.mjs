#!/usr/bin/env node
// Cache parity with BuildKit: for each scenario, build a context with `docker build --progress plain` (BuildKit in
// the stock dockerd) and with tsbuild, edit it the way the scenario says, build again with both, and compare which
// filesystem steps each one reports CACHED. BuildKit's CACHED lines are the reference: a step tsbuild rebuilds that
// BuildKit kept is a needless miss; one tsbuild keeps that BuildKit rebuilt is a suspected false hit. Metadata
// steps (LABEL, ENV, …) are no vertices in BuildKit's graph and are not compared. FROM lines are not compared
// either (BuildKit reports its image resolution there, not a cache decision).
//
//   node bench/cache-parity.mjs [--keep] [--only NAME]
//
// Needs dockerd (started stock if it is not running), skopeo, docker-registry and busybox-static
// (scripts/setup-test-tools.sh), and a built tsbuild (`npm run build`). Exits 1 when any scenario differs.
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { log, pushBaseImage, run, startDockerd, startRegistry } from './env.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSBUILD = path.join(REPO, 'bin', 'run.js');

/**
 * Each scenario: the first context (files, Dockerfile with BASE for the base image), the edit, and the build args
 * of each build. What BuildKit does is not written here: it is measured.
 */
const SCENARIOS = [
  {
    name: 'metadata-edit',
    what: 'a LABEL near the top changes: no filesystem step after it reads it',
    files: {
      Dockerfile:
        'FROM BASE\nLABEL version=1.2\nRUN echo slow > /slow.txt\nCOPY a.txt /a.txt\nEXPOSE 80\nRUN cat /a.txt /slow.txt > /both\nCMD ["sh"]\n',
      'a.txt': 'a\n',
    },
    edit: { Dockerfile: (t) => t.replace('version=1.2', 'version=1.3') },
  },
  {
    name: 'build-arg',
    what: 'a build arg changes: a WORKDIR and a COPY do not read it, a RUN after its ARG does',
    files: {
      Dockerfile:
        'FROM BASE\nWORKDIR /app\nARG APP_VERSION=1\nCOPY a.txt .\nRUN echo built > /built\nWORKDIR /app/sub\nRUN echo "$APP_VERSION" > /version\n',
      'a.txt': 'a\n',
    },
    args: [['APP_VERSION=1.4.2'], ['APP_VERSION=1.4.3']],
  },
  {
    name: 'env-edit',
    what: 'an ENV value changes: a COPY after it keeps, every RUN after it sees the environment',
    files: {
      Dockerfile: 'FROM BASE\nRUN echo one > /one\nENV MODE=dev\nCOPY a.txt /a.txt\nRUN echo two > /two\n',
      'a.txt': 'a\n',
    },
    edit: { Dockerfile: (t) => t.replace('MODE=dev', 'MODE=prod') },
  },
  {
    name: 'same-output-builder',
    what: 'the builder stage reruns but makes the same file: the final COPY --from and what follows keep',
    files: {
      Dockerfile:
        'FROM BASE AS builder\nCOPY src /src\nRUN wc -c /src/main.c | cut -d" " -f1 > /size\nFROM BASE\nCOPY --from=builder /size /size\nRUN cat /size > /seen\n',
      'src/main.c': 'int main(void) { return 1; }\n',
    },
    edit: { 'src/main.c': () => 'int main(void) { return 2; }\n' },
  },
  {
    name: 'file-edit',
    what: 'one copied file changes: its COPY and every filesystem step after it miss, nothing before',
    files: {
      Dockerfile: 'FROM BASE\nRUN echo deps > /deps\nCOPY app.sh /app/app.sh\nRUN sh /app/app.sh > /out\n',
      'app.sh': 'echo 1\n',
    },
    edit: { 'app.sh': () => 'echo 2\n' },
  },
  {
    name: 'dockerignored-edit',
    what: 'a file the .dockerignore leaves out changes: nothing misses',
    files: {
      Dockerfile: 'FROM BASE\nCOPY . /ctx\nRUN ls /ctx > /listing\n',
      '.dockerignore': 'notes.md\n',
      'keep.txt': 'keep\n',
      'notes.md': 'one\n',
    },
    edit: { 'notes.md': () => 'two\n' },
  },
  {
    name: 'unrelated-builder-file',
    what: 'the builder copies a file the final stage does not take: the final COPY --from keeps',
    files: {
      Dockerfile:
        'FROM BASE AS builder\nCOPY . /src\nFROM BASE\nCOPY --from=builder /src/lib.txt /lib.txt\nRUN cat /lib.txt > /seen\n',
      'lib.txt': 'lib\n',
      'readme.txt': 'one\n',
    },
    edit: { 'readme.txt': () => 'two\n' },
  },
  {
    name: 'chown-name-metadata',
    what: 'COPY --chown by name after a CMD edit: the owner lookup reads /etc/passwd, not the config',
    files: {
      Dockerfile:
        'FROM BASE\nCMD ["sh"]\nCOPY --chown=nobody:nogroup a.txt /a.txt\nRUN stat -c %u /a.txt > /owner\n',
      'a.txt': 'a\n',
    },
    edit: { Dockerfile: (t) => t.replace('CMD ["sh"]', 'CMD ["sh", "-c", "true"]') },
  },
  {
    name: 'workdir-edit',
    what: 'WORKDIR changes: a relative COPY lands elsewhere, an absolute one keeps only if it is before',
    files: {
      Dockerfile: 'FROM BASE\nCOPY a.txt /abs.txt\nWORKDIR /one\nCOPY a.txt rel.txt\nRUN pwd > /pwd\n',
      'a.txt': 'a\n',
    },
    edit: { Dockerfile: (t) => t.replace('WORKDIR /one', 'WORKDIR /two') },
  },
  {
    name: 'shell-edit',
    what: 'SHELL changes: a COPY after it keeps, a shell-form RUN misses',
    files: {
      Dockerfile: 'FROM BASE\nSHELL ["/bin/sh", "-c"]\nCOPY a.txt /a.txt\nRUN echo hi > /hi\n',
      'a.txt': 'a\n',
    },
    edit: { Dockerfile: (t) => t.replace('SHELL ["/bin/sh", "-c"]', 'SHELL ["/bin/sh", "-ec"]') },
  },
  {
    name: 'unreferenced-arg',
    what: 'a build arg the RUN never names changes: BuildKit still gives a RUN after the ARG its value',
    files: {
      Dockerfile: 'FROM BASE\nCOPY a.txt /a.txt\nARG UNUSED=1\nCOPY b.txt /b.txt\nRUN echo same > /same\n',
      'a.txt': 'a\n',
      'b.txt': 'b\n',
    },
    args: [['UNUSED=1'], ['UNUSED=2']],
  },
  {
    name: 'global-arg',
    what: 'a global ARG only the FROM line reads changes to a value that names the same base: nothing misses',
    files: {
      Dockerfile: 'ARG TAG=latest\nARG OTHER=1\nFROM BASE\nRUN echo hi > /hi\n',
    },
    args: [['OTHER=1'], ['OTHER=2']],
  },
  {
    name: 'user-edit',
    what: 'USER changes: a COPY without --chown keeps, the RUN after it runs as the new user',
    files: {
      Dockerfile: 'FROM BASE\nUSER root\nCOPY a.txt /a.txt\nRUN id -u > /tmp/uid\n',
      'a.txt': 'a\n',
    },
    edit: { Dockerfile: (t) => t.replace('USER root', 'USER nobody') },
  },
];

function parseArgs(argv) {
  const opts = { keep: false, only: undefined };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--keep') opts.keep = true;
    else if (argv[i] === '--only') opts.only = argv[++i];
    else throw new Error(`unknown option ${argv[i]}`);
  }
  return opts;
}

async function writeContext(dir, files, base) {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, name === 'Dockerfile' ? content.replaceAll('BASE', base) : content);
  }
}

async function applyEdit(dir, edit = {}) {
  for (const [name, change] of Object.entries(edit)) {
    const file = path.join(dir, name);
    const before = await fsp.readFile(file, 'utf8').catch(() => '');
    await fsp.writeFile(file, change(before));
  }
}

/** `[stage i/n] INSTRUCTION` → key; BuildKit names a stage only in multi-stage builds, and so does tsbuild. */
function stepKey(stage, index, instruction) {
  return `${stage ?? ''} ${index} ${instruction.split(/\s+/)[0].toUpperCase()}`;
}

/** Which of BuildKit's step vertices were CACHED, by step key. */
function dockerSteps(output) {
  const names = new Map();
  const cached = new Set();
  for (const line of output.split('\n')) {
    const named = /^#(\d+) \[(?:(\S+) )?(\d+)\/(\d+)\] (.*)$/.exec(line);
    if (named && !names.has(named[1])) names.set(named[1], stepKey(named[2], Number(named[3]), named[5]));
    const hit = /^#(\d+) CACHED$/.exec(line);
    if (hit) cached.add(hit[1]);
  }
  const out = new Map();
  for (const [id, key] of names) if (!key.endsWith(' FROM')) out.set(key, cached.has(id));
  return out;
}

const FS_STEPS = new Set(['RUN', 'COPY', 'ADD', 'WORKDIR']);

/** The same from tsbuild's JSON progress (only the steps BuildKit has vertices for). */
function tsbuildSteps(output) {
  const out = new Map();
  // BuildKit numbers the FROM and the filesystem steps of a stage (`[2/4]`), tsbuild every instruction (`[3/7]`):
  // the filesystem steps are renumbered in order so that the two name the same step alike.
  const ordinal = new Map();
  const done = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const ev = JSON.parse(line);
    if (ev.type === 'step-done') done.push(ev);
  }
  done.sort((a, b) => a.step.stageIndex - b.step.stageIndex || a.step.index - b.step.index);
  for (const ev of done) {
    const s = ev.step;
    if (!FS_STEPS.has(s.instruction.split(/\s+/)[0].toUpperCase())) continue;
    const n = (ordinal.get(s.stageIndex) ?? 1) + 1;
    ordinal.set(s.stageIndex, n);
    out.set(stepKey(s.showStage ? s.stage : undefined, n, s.instruction), ev.cache === 'hit');
  }
  return out;
}

function buildDocker(env, ctx, tag, args) {
  const r = run(
    '/usr/bin/docker',
    ['build', '--progress', 'plain', '-t', tag, ...args.flatMap((a) => ['--build-arg', a]), ctx],
    { env },
  );
  if (r.code !== 0) throw new Error(`docker build ${ctx}: ${r.stderr.slice(-600)}`);
  return dockerSteps(r.stderr + r.stdout);
}

function buildTsbuild(root, ctx, tag, args) {
  const r = run(process.execPath, [
    TSBUILD,
    'build',
    '--root',
    root,
    '--progress',
    'json',
    '-t',
    tag,
    ...args.flatMap((a) => ['--build-arg', a]),
    ctx,
  ]);
  if (r.code !== 0) throw new Error(`tsbuild build ${ctx}: ${r.stderr.slice(-600)}`);
  return tsbuildSteps(r.stdout + r.stderr);
}

function compare(reference, ours) {
  const rows = [];
  for (const [key, cached] of reference) {
    const mine = ours.get(key);
    rows.push({ key, buildkit: cached, tsbuild: mine, same: mine === cached });
  }
  for (const key of ours.keys())
    if (!reference.has(key)) rows.push({ key, buildkit: undefined, tsbuild: ours.get(key), same: false });
  return rows;
}

const word = (v) => (v === undefined ? '—' : v ? 'CACHED' : 'built');

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-parity-'));
  const registry = await startRegistry(path.join(work, 'registry'));
  const daemon = await startDockerd(path.join(work, 'dockerd'));
  let failed = 0;
  try {
    const base = pushBaseImage(work, registry.host, 'busybox');
    const pulled = run('/usr/bin/docker', ['pull', '-q', base], { env: daemon.env });
    if (pulled.code !== 0) throw new Error(`docker pull ${base}: ${pulled.stderr}`);
    const lines = [
      `# Cache parity with BuildKit (docker ${run('/usr/bin/docker', ['version', '--format', '{{.Server.Version}}'], { env: daemon.env }).stdout.trim()})`,
      '',
    ];
    for (const s of SCENARIOS) {
      if (opts.only && s.name !== opts.only) continue;
      const ctx = path.join(work, s.name);
      const root = path.join(work, `${s.name}-store`);
      await writeContext(ctx, s.files, base);
      const [firstArgs, secondArgs] = s.args ?? [[], []];
      const tag = `parity-${s.name}`;
      // BuildKit's cache outlives this run (the stock daemon's): an earlier run's edited build would be a hit.
      const pruned = run('/usr/bin/docker', ['builder', 'prune', '-af'], { env: daemon.env });
      if (pruned.code !== 0) throw new Error(`docker builder prune: ${pruned.stderr}`);
      buildDocker(daemon.env, ctx, tag, firstArgs);
      buildTsbuild(root, ctx, tag, firstArgs);
      await applyEdit(ctx, s.edit);
      const reference = buildDocker(daemon.env, ctx, tag, secondArgs);
      const ours = buildTsbuild(root, ctx, tag, secondArgs);
      const rows = compare(reference, ours);
      const differs = rows.filter((r) => !r.same);
      if (differs.length > 0) failed++;
      lines.push(
        `## ${s.name}: ${differs.length === 0 ? 'same' : `${differs.length} step(s) differ`}`,
        '',
        s.what,
        '',
      );
      lines.push('| step | BuildKit | tsbuild |', '|---|---|---|');
      for (const r of rows)
        lines.push(`| ${r.key.trim()} | ${word(r.buildkit)} | ${word(r.tsbuild)}${r.same ? '' : ' ✗'} |`);
      lines.push('');
      run('/usr/bin/docker', ['rmi', '-f', tag], { env: daemon.env });
    }
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await daemon.stop();
    await registry.stop();
    if (!opts.keep) await fsp.rm(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`cache-parity: ${err.message}\n`);
  process.exitCode = 2;
});
