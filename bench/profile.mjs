// Where tsbuild's time goes: self time from the V8 CPU profiles (`node --cpu-prof`) of one build, by function
// and by file, across the main thread and any worker threads. Idle samples are left out: percentages are of
// the time a thread was busy (JavaScript, native calls, GC).
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export async function summarizeProfiles(dir, repo, top = 10) {
  const files = (await fsp.readdir(dir).catch(() => [])).filter((f) => f.endsWith('.cpuprofile'));
  const byFunction = new Map();
  const byFile = new Map();
  let totalMs = 0;
  for (const f of files) {
    const prof = JSON.parse(await fsp.readFile(path.join(dir, f), 'utf8'));
    const samples = prof.samples?.length ?? 0;
    if (samples === 0) continue;
    const perSample = (prof.endTime - prof.startTime) / 1000 / samples;
    for (const node of prof.nodes) {
      if (!node.hitCount || node.callFrame.functionName === '(idle)') continue;
      const ms = node.hitCount * perSample;
      const cf = node.callFrame;
      const file = cf.url ? shorten(cf.url, repo) : `(${cf.functionName || 'native'})`;
      const fn = `${cf.functionName || '(anonymous)'} ${file}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
      byFile.set(file, (byFile.get(file) ?? 0) + ms);
      totalMs += ms;
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
  };
}

function shorten(url, repo) {
  const p = url.startsWith('file://') ? url.slice(7) : url;
  if (p.startsWith(repo)) return path.relative(repo, p);
  const nm = p.lastIndexOf('node_modules/');
  return nm >= 0 ? p.slice(nm) : p;
}
