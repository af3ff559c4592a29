// Where tsbuild's time goes: self time from the V8 CPU profiles (`node --cpu-prof`) of one build, by function
// and by file, across the main thread and any worker threads, and each function's total time (itself plus what
// it called). Idle samples are left out: percentages are of the time a thread was busy (JavaScript, native
// calls, GC).
//
//   node bench/profile.mjs PROFILE_DIR [--top N]     print the summary of the profiles in PROFILE_DIR
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

export async function summarizeProfiles(dir, repo, top = 10) {
  const files = (await fsp.readdir(dir).catch(() => [])).filter((f) => f.endsWith('.cpuprofile'));
  const byFunction = new Map();
  const byFile = new Map();
  const byFunctionTotal = new Map();
  let totalMs = 0;
  for (const f of files) {
    const prof = JSON.parse(await fsp.readFile(path.join(dir, f), 'utf8'));
    const samples = prof.samples?.length ?? 0;
    if (samples === 0) continue;
    const perSample = (prof.endTime - prof.startTime) / 1000 / samples;
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const label = (cf) => {
      const file = cf.url ? shorten(cf.url, repo) : `(${cf.functionName || 'native'})`;
      return {
        file,
        fn: `${cf.functionName || '(anonymous)'} ${file}${cf.url ? `:${cf.lineNumber + 1}` : ''}`,
      };
    };
    for (const node of prof.nodes) {
      if (!node.hitCount || node.callFrame.functionName === '(idle)') continue;
      const ms = node.hitCount * perSample;
      const { file, fn } = label(node.callFrame);
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
      byFile.set(file, (byFile.get(file) ?? 0) + ms);
      totalMs += ms;
      // Total time: every function on the stack of these samples, once each (recursion counts once).
      const seen = new Set();
      for (let id = node.id; id !== undefined; id = parent.get(id)) {
        const name = label(byId.get(id).callFrame).fn;
        if (seen.has(name) || name.startsWith('(root)')) continue;
        seen.add(name);
        byFunctionTotal.set(name, (byFunctionTotal.get(name) ?? 0) + ms);
      }
    }
  }
  const rank = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), percent: Math.round((ms / totalMs) * 1000) / 10 }));
  return {
    profiles: files.length,
    sampledMs: Math.round(totalMs),
    byFunction: rank(byFunction),
    byFile: rank(byFile),
    byFunctionTotal: rank(byFunctionTotal),
  };
}

function shorten(url, repo) {
  const p = url.startsWith('file://') ? url.slice(7) : url;
  if (p.startsWith(repo)) return path.relative(repo, p);
  const nm = p.lastIndexOf('node_modules/');
  return nm >= 0 ? p.slice(nm) : p;
}

async function main() {
  const args = process.argv.slice(2);
  const dir = args.find((a) => !a.startsWith('--'));
  if (!dir) {
    process.stderr.write('usage: node bench/profile.mjs PROFILE_DIR [--top N]\n');
    process.exit(2);
  }
  const ti = args.indexOf('--top');
  const top = ti >= 0 ? Number(args[ti + 1]) : 25;
  const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const s = await summarizeProfiles(path.resolve(dir), repo, top);
  const table = (title, rows) =>
    `${title}\n${rows.map((r) => `${String(r.ms).padStart(8)} ms ${String(r.percent).padStart(5)}%  ${r.name}`).join('\n')}\n`;
  process.stdout.write(
    `${s.profiles} profile(s), ${s.sampledMs} ms busy\n\n` +
      `${table('self time by function', s.byFunction)}\n` +
      `${table('total time by function (self + callees)', s.byFunctionTotal)}\n` +
      table('self time by file', s.byFile),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    process.stderr.write(`${e.stack ?? e}\n`);
    process.exit(1);
  });
}
