// Renders a bench result (bench/results/*.json) as bench/RESULTS.md.
//
//   node bench/report.mjs bench/results/FILE.json     regenerate bench/RESULTS.md from a stored result
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PEERS = ['docker', 'buildah', 'podman'];
const RSS_LIMIT_MB = 300;

const sec = (ms) => (ms == null ? '—' : `${(ms / 1000).toFixed(2)} s`);
const mb = (kb) => (kb == null ? '—' : `${Math.round(kb / 1024)} MB`);
const ratio = (x) => (x == null ? '—' : x.toFixed(2));
const bytes = (n) => (n >= 1 << 20 ? `${(n / 1048576).toFixed(0)} MB` : `${(n / 1024).toFixed(0)} kB`);
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');

function entry(result, id, tool) {
  return result.scenarios.find((s) => s.id === id)?.tools[tool] ?? null;
}

/** Why a scenario has no usable time for a tool (null when it has one). */
function why(e, tool) {
  if (!e) return `${tool} was not run`;
  if (e.status === 'missing') return `${tool} missing: ${e.reason}`;
  if (!e.time) return `${tool} failed: ${e.errors?.[0] ?? 'no successful run'}`;
  return null;
}

function median(e) {
  return e?.time?.median ?? null;
}

/** Row makers shared by the target tables: a ratio row, and one tool's median (or why there is none). */
function tableMakers(result, rows) {
  const row = (scenario, target, limit, num, den, denLabel) => {
    const problems = [...new Set([num.problem, den.problem].filter(Boolean))];
    const r = num.ms != null && den.ms != null ? num.ms / den.ms : null;
    const measured = r == null ? '—' : `${ratio(r)} (${sec(num.ms)} / ${sec(den.ms)} ${denLabel})`;
    const verdict = r == null ? `FAIL — not measured: ${problems.join('; ')}` : r <= limit ? 'pass' : 'FAIL';
    rows.push({ scenario, target, measured, ratio: r, verdict, pass: r != null && r <= limit });
  };
  const tool = (id, name) => {
    const e = entry(result, id, name);
    return { ms: median(e), problem: why(e, name) };
  };
  return { row, tool };
}

/** The largest peak RSS of any successful tsbuild run, with its scenario. */
function peakRss(result) {
  const all = result.scenarios.flatMap((s) =>
    (s.tools.tsbuild?.runs ?? []).filter((r) => r.ok).map((r) => ({ id: s.id, kb: r.rssKB })),
  );
  return all.filter((x) => Number.isFinite(x.kb)).sort((a, b) => b.kb - a.kb)[0];
}

/** Issue 12's bar: realistic images (Debian base, big layers), each against BuildKit in the stock dockerd. */
export function issue12Targets(result) {
  const rows = [];
  const { row, tool } = tableMakers(result, rows);
  const vsBuildKit = (scenario, target, limit, id) =>
    row(scenario, target, limit, tool(id, 'tsbuild'), tool(id, 'docker'), 'BuildKit');
  vsBuildKit(
    '120 MB RUN layer, small RUN, `COPY --chown=NAME`, `COPY --from` (cold)',
    '≤ 1.0 × BuildKit',
    1.0,
    'debian-layers/cold',
  );
  const a = tool('debian-layers/small-steps', 'tsbuild');
  const b = tool('debian-layers/small-steps', 'docker');
  const extra = a.ms != null && b.ms != null ? a.ms - b.ms : null;
  rows.push({
    scenario: 'the small steps after the large layer (small RUN, `--chown=NAME` COPY, `COPY --from`)',
    target: '≤ BuildKit + 0.3 s',
    measured: extra == null ? '—' : `+${sec(extra)} (${sec(a.ms)} / ${sec(b.ms)} BuildKit)`,
    verdict:
      extra == null
        ? `FAIL — not measured: ${[a.problem, b.problem].filter(Boolean).join('; ')}`
        : extra <= 300
          ? 'pass'
          : 'FAIL',
    pass: extra != null && extra <= 300,
  });
  vsBuildKit(
    'two-stage compiler build, one source line edited',
    '≤ 1.0 × BuildKit',
    1.0,
    'compile-like/edit-source',
  );
  vsBuildKit('node-like, one source file edited', '≤ 0.6 × BuildKit', 0.6, 'node-like/edit-source');
  vsBuildKit(
    'CI: empty store, `--cache-from type=registry`, nothing changed, `--push`',
    '≤ 0.2 × BuildKit with its inline cache',
    0.2,
    'node-like/ci-push',
  );
  const prints = result.scenarios
    .filter((s) => s.storeFootprint)
    .map((s) => ({ id: s.id, ...s.storeFootprint }));
  const worst = prints
    .map((p) => ({ ...p, r: p.layerBytes > 0 ? p.diskBytes / p.layerBytes : null }))
    .sort((x, y) => (y.r ?? Infinity) - (x.r ?? Infinity))[0];
  rows.push({
    scenario: 'store size after the builds above (the worst fixture)',
    target: '≤ 1.3 × the distinct layers, uncompressed',
    measured: worst
      ? `${ratio(worst.r)} (${bytes(worst.diskBytes)} on disk / ${bytes(worst.layerBytes)} in ${worst.layers} layers, after ${worst.id})`
      : '—',
    verdict: !worst || worst.r == null ? 'FAIL — not measured' : worst.r <= 1.3 ? 'pass' : 'FAIL',
    pass: !!worst && worst.r != null && worst.r <= 1.3,
  });
  const peak = peakRss(result);
  rows.push({
    scenario: 'peak RSS',
    target: `≤ ${RSS_LIMIT_MB} MB`,
    measured: peak ? `${mb(peak.kb)} (${peak.id})` : '—',
    verdict: !peak ? 'FAIL — not measured' : peak.kb / 1024 > RSS_LIMIT_MB ? 'FAIL' : 'pass',
    pass: !!peak && peak.kb / 1024 <= RSS_LIMIT_MB,
  });
  return rows;
}

/** Every row of issue 7's target table, with the measured ratio and the verdict. */
export function targets(result) {
  const rows = [];
  const ts = (id) => entry(result, id, 'tsbuild');
  const { row, tool } = tableMakers(result, rows);
  const limitOf = (key, label) => {
    const l = result.limits?.[key];
    return { ms: l?.time?.median ?? null, problem: l ? null : `${label} not measured` };
  };

  row(
    'node-like no-op rebuild',
    '≤ 0.5 × BuildKit',
    0.5,
    tool('node-like/no-op', 'tsbuild'),
    tool('node-like/no-op', 'docker'),
    'BuildKit',
  );
  row(
    'node-like one file edited',
    '≤ 0.5 × BuildKit',
    0.5,
    tool('node-like/edit-source', 'tsbuild'),
    tool('node-like/edit-source', 'docker'),
    'BuildKit',
  );
  const peers = PEERS.map((p) => ({ p, ...tool('node-like/cold', p) })).filter((x) => x.ms != null);
  const fastest = peers.sort((a, b) => a.ms - b.ms)[0];
  row(
    'node-like cold',
    '≤ 0.8 × the fastest peer',
    0.8,
    tool('node-like/cold', 'tsbuild'),
    fastest ? { ms: fastest.ms, problem: null } : { ms: null, problem: 'no peer built node-like cold' },
    fastest ? fastest.p : '',
  );
  row(
    'large no-op rebuild',
    '≤ 0.25 × BuildKit',
    0.25,
    tool('large/no-op', 'tsbuild'),
    tool('large/no-op', 'docker'),
    'BuildKit',
  );
  row(
    'large cold (gzip)',
    '≤ 1.3 × `tar c | pigz`',
    1.3,
    tool('large/cold', 'tsbuild'),
    limitOf('tarPigz', 'tar | pigz'),
    'tar|pigz',
  );
  row(
    'large cold (zstd)',
    '≤ 1.3 × `tar c | zstd -T0`',
    1.3,
    tool('large/cold-zstd', 'tsbuild'),
    limitOf('tarZstd', 'tar | zstd'),
    'tar|zstd',
  );
  row(
    'multistage cold',
    '≤ 0.6 × the sum of the stages built one by one',
    0.6,
    tool('multistage/cold', 'tsbuild'),
    tool('multistage/stages-one-by-one', 'tsbuild'),
    'one by one',
  );

  // peak RSS: the largest of any tsbuild run, and how it grows from node-like to large
  const peak = peakRss(result);
  const small = ts('node-like/cold')?.rss?.max;
  const big = ts('large/cold')?.rss?.max;
  const flat =
    small && big ? ` — large cold ${mb(big)} vs node-like cold ${mb(small)} (×${ratio(big / small)})` : '';
  const okEverywhere = result.scenarios.every((s) => !s.tools.tsbuild || s.tools.tsbuild.status === 'ok');
  rows.push({
    scenario: 'peak RSS, any scenario',
    target: `≤ ${RSS_LIMIT_MB} MB, flat as the context grows`,
    measured: peak ? `${mb(peak.kb)} (${peak.id})${flat}` : '—',
    verdict: !peak
      ? 'FAIL — not measured'
      : peak.kb / 1024 > RSS_LIMIT_MB
        ? 'FAIL'
        : okEverywhere
          ? 'pass'
          : 'FAIL — only the runs that finished are counted; failed scenarios were not measured',
    pass: !!peak && peak.kb / 1024 <= RSS_LIMIT_MB && okEverywhere,
  });
  return rows;
}

/**
 * `analysis`: hand-written markdown (bench/ANALYSIS.md) read with the numbers in front of you — profiles and
 * what the failing targets would take; the generated tables cannot say that.
 */
export function renderMarkdown(result, jsonPath, analysis = '') {
  const L = [];
  const m = result.machine;
  L.push('# tsbuild benchmark results', '');
  if (result.quick) {
    L.push(
      '> **QUICK RUN — NOT A RESULT.** Made with `npm run bench -- --quick`: small fixtures and ' +
        `${result.runs} runs, to show the harness works end to end. Its numbers say nothing about the targets; ` +
        'run `npm run bench` for a real result.',
      '',
    );
  }
  if (result.fatal) L.push(`> **The run stopped early:** ${cell(result.fatal)}`, '');
  L.push(
    `Run ${result.startedAt} for ${Math.round(result.durationSec / 60)} min; ${result.runs} measured runs per tool and ` +
      'scenario, after one warm-up round per fixture (before its first scenario), tools alternating (the order ' +
      'rotates every round); medians and min–max of ' +
      'the successful runs. ' +
      `Raw data: ${[jsonPath]
        .flat()
        .map((j) => `[\`${j}\`](${j})`)
        .join(', ')}. tsbuild at commit \`${result.git?.commit?.slice(0, 12)}\`` +
      `${result.git?.dirtySrc ? ' (with uncommitted changes in src/ or bin/)' : ''}. Base image for every tool: ` +
      `\`${result.baseImage ?? '—'}\` (busybox-static, pushed to a local docker-registry).`,
    '',
    '## Machine',
    '',
    '| nproc | CPU | memory | kernel | OS | node | CPU steal during the run |',
    '|---|---|---|---|---|---|---|',
    `| ${m.nproc} | ${cell(m.cpuModel)} | ${m.memoryMB} MB | ${m.kernel} | ${cell(m.os)} | ${m.node} | ${result.cpuStealPercent ?? '—'} % |`,
    '',
    '## Tools',
    '',
    '| tool | state |',
    '|---|---|',
  );
  for (const [name, t] of Object.entries(result.tools)) {
    const state = t.available ? t.version : `**missing** — ${t.reason}`;
    L.push(
      `| ${name} (${cell(t.label)}) | ${cell(state)}${t.notes?.length ? ` — ${cell(t.notes.join('; '))}` : ''} |`,
    );
  }
  L.push(
    '',
    '## Fixtures',
    '',
    'Generated by `bench/fixtures.mjs` from a seeded PRNG (the same trees on every machine).',
    '',
  );
  L.push('| fixture | files | size | listing digest |', '|---|---|---|---|');
  for (const [name, f] of Object.entries(result.fixtures)) {
    const extra = f.ignored ? ` (incl. \`${f.ignored}\`, excluded by .dockerignore)` : '';
    L.push(`| ${name} | ${f.files} | ${bytes(f.bytes)}${extra} | \`${f.listingDigest.slice(0, 19)}…\` |`);
  }

  L.push(
    '',
    '## Targets (issue 7)',
    '',
    '| scenario | target | measured (tsbuild / reference, medians) | verdict |',
    '|---|---|---|---|',
  );
  for (const r of targets(result))
    L.push(`| ${r.scenario} | ${cell(r.target)} | ${cell(r.measured)} | ${cell(r.verdict)} |`);
  L.push(
    '',
    '## Targets (issue 12: realistic images, against the stock dockerd)',
    '',
    '| scenario | target | measured (tsbuild / reference, medians) | verdict |',
    '|---|---|---|---|',
  );
  for (const r of issue12Targets(result))
    L.push(`| ${r.scenario} | ${cell(r.target)} | ${cell(r.measured)} | ${cell(r.verdict)} |`);

  L.push('', '## Scenarios', '');
  L.push(
    'Time is wall-clock of the build command (successful runs only, as is RSS). Peak RSS is `/usr/bin/time -f %M` (largest process of the tree) for ' +
      "tsbuild, buildah and podman; for docker it is dockerd's growth during the build (VmHWM after, reset through " +
      '`/proc/PID/clear_refs`, minus VmRSS before) — the client is not where the work happens. The last column is ' +
      'tsbuild / that tool.',
    '',
  );
  for (const s of result.scenarios) {
    L.push(`### ${s.id}`, '', `${s.what}.`, '');
    L.push(
      '| tool | status | median | min–max | peak RSS (median, max) | tsbuild / tool |',
      '|---|---|---|---|---|---|',
    );
    const tsMed = median(s.tools.tsbuild);
    const errors = [];
    for (const [name, e] of Object.entries(s.tools)) {
      if (e.status === 'missing') {
        L.push(`| ${name} | missing | — | — | — | — |`);
        continue;
      }
      const status = e.status === 'ok' ? `ok (${e.ok})` : `**${e.status}** (${e.failed} of ${e.runs.length})`;
      const range = e.time ? `${sec(e.time.min)} – ${sec(e.time.max)}` : '—';
      const rss = e.rss
        ? `${mb(e.rss.median)}, ${mb(e.rss.max)}${name === 'docker' ? ' (dockerd Δ)' : ''}`
        : '—';
      const r = name !== 'tsbuild' && tsMed != null && e.time ? ratio(tsMed / e.time.median) : '—';
      L.push(`| ${name} | ${status} | ${sec(e.time?.median)} | ${range} | ${rss} | ${r} |`);
      for (const err of e.errors ?? []) errors.push(`${name}: ${err}`);
    }
    if (s.id === 'multistage/stages-one-by-one') {
      const parts = Object.entries(s.tools)
        .filter(([, e]) => e.runs?.some((r) => r.parts))
        .map(
          ([n, e]) =>
            `${n} ${e.runs
              .find((r) => r.parts)
              .parts.map((p) => sec(p))
              .join(' + ')}`,
        );
      if (parts.length)
        L.push(
          '',
          `Parts of the first measured run (stages in order, then the final stage): ${parts.join('; ')}.`,
        );
    }
    if (errors.length) L.push('', 'Errors:', '', ...errors.map((e) => `- ${cell(e)}`));
    if (s.profile) L.push('', profileText(s.profile));
    L.push('');
  }

  L.push('## Machine limits (same run)', '');
  const lim = result.limits ?? {};
  if (lim.bytes) {
    L.push(`Measured on the large context (${bytes(lim.bytes)} as tar), alternating, page cache warm.`, '');
    L.push('| probe | median | min–max | MB/s |', '|---|---|---|---|');
    for (const k of ['tarPigz', 'tarZstd', 'tar', 'sha256sum', 'nodeSha256', 'statWalk']) {
      const p = lim[k];
      if (p)
        L.push(
          `| ${cell(p.what)} | ${sec(p.time.median)} | ${sec(p.time.min)} – ${sec(p.time.max)} | ${p.MBps ?? '—'} |`,
        );
    }
    L.push('', 'How close tsbuild is to them:', '');
    const close = (id, key, label) => {
      const t = median(entry(result, id, 'tsbuild'));
      const l = lim[key]?.time?.median;
      return `- ${id}: ${t != null && l ? `${ratio(t / l)} × ${label}` : `— (${why(entry(result, id, 'tsbuild'), 'tsbuild') ?? 'no limit'})`}`;
    };
    L.push(
      close('large/cold', 'tarPigz', '`tar c | pigz`'),
      close('large/cold-zstd', 'tarZstd', '`tar c | zstd -T0`'),
      close('large/no-op', 'statWalk', 'a stat walk of the tree (`find -printf`)'),
    );
    const sha = lim.sha256sum?.MBps;
    const large = result.fixtures.large?.bytes;
    if (sha && large)
      L.push(
        `- hashing the large context once at sha256sum's speed takes ${sec((large / 1048576 / sha) * 1000)}.`,
      );
  } else L.push('Not measured (the large fixture was not part of this run).');

  L.push('', "## Where tsbuild's time goes", '');
  const profiled = result.scenarios.filter((s) => s.profile);
  L.push(
    profiled.length
      ? 'See the profile under each scenario above (one extra, unmeasured run with `node --cpu-prof`).'
      : 'Not profiled in this run: `npm run bench -- --profile` adds one unmeasured `--cpu-prof` run of tsbuild per ' +
          'scenario and summarizes self time by file and function here.',
  );

  L.push('', '## Notes', '');
  const notes = [
    'Every scenario runs for every tool; a failed run is counted and its error shown, never dropped. Ratios use ' +
      'the medians of the successful runs; a target whose scenario failed is a FAIL.',
    'Cold means: tsbuild starts from a store that holds only the base image; docker runs `system prune -af` and ' +
      '`builder prune -af` and pulls the base again; buildah and podman remove all containers and images and pull ' +
      'the base again (each has its own storage root so they never share layers). The pruning is not timed.',
    'docker builds go to the stock dockerd (default data root, overlay2, default bridge network); buildah and ' +
      "podman build with `--network host`, with runc and cgroupfs (crun refuses this machine's hybrid cgroups).",
    'The peers keep layers uncompressed in their local stores, while tsbuild writes compressed OCI blobs: cold ' +
      'times compare different amounts of work; the large/cold targets are measured against the machine limits.',
    'node-like is edited by the scenarios, so every tool has its own copy; the other fixtures are shared, read-only.',
    'Each tool runs with its defaults otherwise: BuildKit builds independent stages in parallel, buildah and podman ' +
      'build stages one at a time unless given `--jobs` (not given here).',
    ...(result.notes ?? []),
  ];
  for (const n of notes) L.push(`- ${cell(n)}`);
  L.push('');
  if (analysis) L.push('## Where the time goes, and what it would take', '', analysis.trim(), '');
  return L.join('\n');
}

function profileText(p) {
  if (!p.byFile?.length)
    return `Profile: ${p.ok ? 'no samples' : `the profiled run failed: ${cell(p.error ?? '')}`}.`;
  const files = p.byFile.map((x) => `\`${x.name}\` ${x.percent}%`).join(', ');
  const fns = p.byFunction
    .slice(0, 6)
    .map((x) => `\`${x.name}\` ${x.percent}%`)
    .join(', ');
  return `Profile (${sec(p.ms)}, ${p.profiles} thread profile(s), ${sec(p.sampledMs)} busy): self time by file: ${files}. Top functions: ${fns}.`;
}

/**
 * Several runs of the harness as one report: a full run is split (e.g. `--fixtures node-like,multistage`, then
 * `--fixtures large --tools tsbuild,docker`) to fit in a session. Scenarios, fixtures and tools are the union;
 * limits come from the run that measured them; the time window spans all runs. Every row still compares tools
 * measured side by side within one run, since each scenario comes from exactly one run.
 */
/** Every scenario once, in first-seen order; a later file's run of the same scenario replaces an earlier one (a re-run). */
function latestScenarios(results) {
  const byId = new Map();
  for (const r of results) for (const s of r.scenarios) byId.set(s.id, s);
  return [...byId.values()];
}

export function mergeResults(results) {
  if (results.length === 1) return results[0];
  const [first] = results;
  const commits = new Set(results.map((r) => r.git?.commit));
  return {
    ...first,
    runs: Math.min(...results.map((r) => r.runs)),
    quick: results.some((r) => r.quick),
    startedAt: results.map((r) => r.startedAt).sort()[0],
    finishedAt: results
      .map((r) => r.finishedAt)
      .sort()
      .at(-1),
    durationSec: results.reduce((t, r) => t + (r.durationSec ?? 0), 0),
    git: { ...first.git, dirtySrc: results.some((r) => r.git?.dirtySrc) },
    tools: Object.assign({}, ...results.map((r) => r.tools)),
    fixtures: Object.assign({}, ...results.map((r) => r.fixtures)),
    limits: Object.assign({}, ...results.map((r) => r.limits ?? {})),
    scenarios: latestScenarios(results),
    cpuStealPercent: Math.max(...results.map((r) => r.cpuStealPercent ?? 0)),
    notes: [
      `Merged from ${results.length} runs of the harness (${results.map((r) => r.startedAt).join(', ')})` +
        (commits.size > 1
          ? ` at different commits (${[...commits].map((c) => c?.slice(0, 12)).join(', ')})`
          : '') +
        '; each scenario comes from one run, where its tools alternated (the latest run of a scenario wins).',
      ...results.flatMap((r) => r.notes ?? []),
    ],
  };
}

async function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: node bench/report.mjs bench/results/FILE.json [MORE.json …]\n');
    process.exit(2);
  }
  const here = path.dirname(fileURLToPath(import.meta.url));
  const results = await Promise.all(files.map(async (f) => JSON.parse(await fsp.readFile(f, 'utf8'))));
  const out = path.join(here, 'RESULTS.md');
  const links = files.map((f) => path.relative(here, path.resolve(f)));
  const analysis = await fsp.readFile(path.join(here, 'ANALYSIS.md'), 'utf8').catch(() => '');
  await fsp.writeFile(out, renderMarkdown(mergeResults(results), links, analysis));
  // committed: formatted as the repository's `prettier --check .` expects
  const prettier = path.join(here, '..', 'node_modules', '.bin', 'prettier');
  spawnSync(prettier, ['--write', '--log-level', 'warn', out], { stdio: 'inherit' });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
