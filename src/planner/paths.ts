/**
 * Linux path rules of BuildKit's `util/system` (NormalizePath): a relative path is joined to the working
 * directory and cleaned; an absolute one is kept exactly as written (`WORKDIR /a/../b` stays so).
 */
import { goClean } from '../go/path';
import { goPathJoin } from './go';

/** WORKDIR: the new working directory given the current one. */
export function normalizeWorkdir(current: string, wd: string): string {
  return normalizePath(current, wd, false);
}

/** A COPY/ADD destination made absolute; `.` and `` mean the working directory itself, as a directory. */
export function destinationPath(workdir: string, dest: string): string {
  if (dest.startsWith('/')) return normalizePath('/', dest, true);
  return normalizePath(workdir, dest === '.' || dest === '' ? './' : dest, true);
}

/** A RUN --mount target: relative ones are joined to the working directory. */
export function mountTarget(workdir: string, target: string): string {
  return goClean(target).startsWith('/') ? target : goPathJoin('/', workdir, target);
}

function normalizePath(parent: string, path: string, keepSlash: boolean): string {
  let base = parent === '' ? '/' : parent;
  if (!base.startsWith('/')) base = goPathJoin('/', base);
  let out = path === '' ? base : path;
  if (!out.startsWith('/')) out = goPathJoin(base, out);
  if (keepSlash) {
    if (path.endsWith('/') && !out.endsWith('/')) out += '/';
    else if (path.endsWith('/.')) {
      if (out !== '/') out += '/';
      out += '.';
    }
  }
  return out;
}
