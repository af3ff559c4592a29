/**
 * The build context room: what `docker build` would send, and what each file's content is.
 *
 *   const ignore = await loadIgnorePatterns(contextDir, dockerfilePath);   // <Dockerfile>.dockerignore wins
 *   const matcher = matcherFromIgnoreFile(ignore);                        // UserError at file:line if bad
 *   const entries = await contextEntries(contextDir, { matcher, cacheDir }); // walk + sha256, for cache keys
 *   const tree = new ContextTree(entries);
 *   const sources = expandCopySource('src/*.ts', tree);                   // [] → caller reports "no matches"
 *
 * - `readDockerignore(text, fileName)` is patternmatcher's `ignorefile.ReadAll`; `parseDockerignore` adds lines.
 * - `PatternMatcher.create(patterns, source?)` is patternmatcher's `New`. `matches(path)` is the answer a real
 *   build gives (walk rule + fsutil pruning); `matchesUsingParentResults` is the per-step walk primitive;
 *   `matchesOrParentMatches` is the simpler rule the classic daemon used.
 * - `walkContext(dir, matcher)` lists every path the build sees, in walk order, with its lstat reduced to an
 *   `EntryStat` (permission bits, owner, size, whole-second mtime, exact stat key for files). The Dockerfile
 *   and the ignore file are left out when the patterns match them; read those directly, they are always readable.
 * - `hashEntries` / `DigestCache` digest files, reusing a digest only when size, mtime, ctime, inode and device
 *   all match (and the change was not too recent to tell); `contextEntries` combines walk and digests into
 *   `ContextEntry` records that hold no times.
 * - `goMatch` is Go's `filepath.Match`; `expandCopySource` is BuildKit's wildcard expansion of a COPY source.
 */
export { BadPatternError, containsWildcards, goMatch, validateGoPattern } from './glob';
export { expandCopySource, splitWildcards } from './copy-source';
export { DigestCache, DEFAULT_RACY_WINDOW_NS, type DigestCacheOptions } from './digest-cache';
export {
  loadIgnorePatterns,
  matcherFromIgnoreFile,
  parseDockerignore,
  readDockerignore,
  type IgnoreFile,
  type IgnorePattern,
} from './dockerignore';
export { contextEntries, entryMtime, toContextEntry, withMode, type ContextEntriesOptions } from './entries';
export { hashEntries, hashFile, type FileDigest, type HashOptions, type HashResult } from './hash';
export { classifyPattern, type CompiledPattern, type MatchType } from './pattern';
export { PatternMatcher, type MatchInfo, type MatchResult, type PatternSource } from './pattern-matcher';
export { ContextTree, type TreeNode } from './tree';
export {
  entryStat,
  statKey,
  type ContextEntry,
  type EntryStat,
  type EntryType,
  type WalkEntry,
} from './types';
export { walkContext, walkContextScoped } from './walk';
