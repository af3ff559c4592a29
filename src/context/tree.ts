/**
 * An in-memory view of a walked context (or any tree of relative paths), with the two operations COPY source
 * resolution needs: resolving a path inside the root with symlinks followed and `..` clamped at the root
 * (containerd's `fs.RootPath`, which BuildKit uses), and listing a directory's subtree in walk order.
 */
import { BuildError } from '../errors';
import { goClean } from '../go/path';
import { compareCodePoints } from './go-path';
import type { EntryType } from './types';

export interface TreeNode {
  /** Relative, `/`-separated. */
  path: string;
  type: EntryType;
  linkTarget?: string;
}

// Linux's limit on symlinks followed during one lookup.
const MAX_LINKS = 255;

export class ContextTree {
  private readonly nodes = new Map<string, TreeNode>();
  private readonly children = new Map<string, string[]>();

  constructor(entries: readonly TreeNode[]) {
    this.children.set('', []);
    for (const e of entries) this.nodes.set(e.path, e);
    for (const e of entries) {
      const slash = e.path.lastIndexOf('/');
      const parent = slash < 0 ? '' : e.path.slice(0, slash);
      let list = this.children.get(parent);
      if (!list) this.children.set(parent, (list = []));
      list.push(e.path);
    }
    for (const list of this.children.values()) list.sort(compareCodePoints);
  }

  /** The node at `path` (`''` is the root, which has no node). */
  get(path: string): TreeNode | undefined {
    return this.nodes.get(path);
  }

  /** True for the root and for every listed directory. */
  isDir(path: string): boolean {
    return path === '' || this.nodes.get(path)?.type === 'dir';
  }

  /** Everything below `dir` in walk order (pre-order, siblings sorted). `''` is the root. */
  *descendants(dir: string): Generator<TreeNode> {
    // An explicit stack: nested generators would pass every node up through one frame per directory level.
    const stack: { list: readonly string[]; next: number }[] = [
      { list: this.children.get(dir) ?? [], next: 0 },
    ];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next >= top.list.length) {
        stack.pop();
        continue;
      }
      const node = this.nodes.get(top.list[top.next++]) as TreeNode;
      yield node;
      if (node.type === 'dir') stack.push({ list: this.children.get(node.path) ?? [], next: 0 });
    }
  }

  /**
   * Resolve `p` inside the root: symlinks are followed (absolute targets start again at the root, relative ones
   * from the link's directory), `..` never leaves the root, and missing components are kept as written.
   * With `followFinal` false a symlink in the last component is left alone. Returns a relative path (`''` = root).
   */
  resolve(p: string, followFinal = true): string {
    let pending = goClean('/' + p)
      .split('/')
      .filter((s) => s !== '');
    const out: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const part = pending[0];
      pending = pending.slice(1);
      if (part === '.' || part === '') continue;
      if (part === '..') {
        out.pop();
        continue;
      }
      const node = this.nodes.get([...out, part].join('/'));
      if (node?.type === 'symlink' && (followFinal || pending.length > 0)) {
        if (++links > MAX_LINKS) throw new BuildError(`too many levels of symbolic links: ${p}`);
        const target = node.linkTarget ?? '';
        if (target.startsWith('/')) out.length = 0;
        pending = [...target.split('/'), ...pending];
        continue;
      }
      out.push(part);
    }
    return out.join('/');
  }
}
