/**
 * Go's `path.Clean` (= `filepath.Clean` on Unix), which `.dockerignore` patterns, working directories and cache
 * ids go through in BuildKit. Node's `path.posix.normalize` keeps a trailing `/` and a rooted path's leading `..`,
 * and gives `.` for nothing only sometimes: those differences would change which files a context holds and which
 * directory a step runs in.
 */

/** Lexical cleaning: `""` → `"."`, no trailing slash, a rooted path cannot go above `/`. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      // A rooted path cannot go above `/`: the `..` is dropped.
      continue;
    }
    out.push(seg);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}
