/**
 * Runs commands the way a RUN step does (overlay rootfs over a busybox snapshot, the sandbox, the diff) and
 * hands back exit code, output and the layer entries, so tests can check all three under every isolation.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { findTool, selectRuntime, type SandboxRuntime } from '../../../../src/executor/sandbox/runtime';
import { runInSandbox } from '../../../../src/executor/sandbox/sandbox';
import type { SandboxOptions, SandboxResult } from '../../../../src/executor/sandbox/types';
import { prepareRunRootfs } from '../../../../src/layers/overlay';
import type { LayerEntry } from '../../../../src/layers/tar-writer';
import { makeBusyboxRootfs, requireRoot, requireTools, tempDir } from './fixtures';

export type RuntimeChoice = 'runc' | 'crun';

/** The runtime for a choice, failing (not skipping) when its tools are missing. */
export function runtimeFor(choice: RuntimeChoice): SandboxRuntime {
  requireRoot();
  requireTools(choice);
  // Hide the other OCI runtime so this one is chosen.
  const other = choice === 'runc' ? 'crun' : 'runc';
  return selectRuntime('oci', { find: (t) => (t === other ? undefined : findTool(t)), isRoot: true });
}

export interface RunOutcome extends SandboxResult {
  stdout: string;
  stderr: string;
  entries: LayerEntry[];
  /** The entries as `type path mode uid:gid [content | -> target]`, mtimes left out. */
  lines: string[];
}

export type RunOptions = Partial<Omit<SandboxOptions, 'rootfs' | 'scratch'>> & {
  /** A shell script, run as `/bin/sh -c SCRIPT` (instead of argv). */
  sh?: string;
  /** Extra lower dirs on top of busybox. */
  extraLowers?: string[];
  /** Called with the entries while the files they name still exist. */
  inspect?: (entries: LayerEntry[]) => Promise<void>;
};

export class SandboxHarness {
  private runs = 0;

  private constructor(
    readonly dir: string,
    readonly busybox: string,
    readonly runtime: SandboxRuntime,
  ) {}

  static async create(choice: RuntimeChoice): Promise<SandboxHarness> {
    const runtime = runtimeFor(choice);
    const dir = await tempDir(`sandbox-${choice}`);
    const busybox = path.join(dir, 'busybox');
    await fsp.mkdir(busybox);
    await makeBusyboxRootfs(busybox);
    return new SandboxHarness(dir, busybox, runtime);
  }

  async run(opts: RunOptions = {}): Promise<RunOutcome> {
    const n = this.runs++;
    const { sh, inspect, extraLowers, ...rest } = opts;
    const rootfs = await prepareRunRootfs({
      lowers: [this.busybox, ...(extraLowers ?? [])],
      scratch: path.join(this.dir, `run-${n}`),
      mode: 'overlay',
    });
    let stdout = '';
    let stderr = '';
    try {
      const result = await runInSandbox({
        argv: sh !== undefined ? ['/bin/sh', '-c', sh] : ['/bin/true'],
        env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        user: '',
        workdir: '/',
        network: 'default',
        isolation: 'auto',
        mounts: [],
        runtime: this.runtime,
        ...rest,
        rootfs: rootfs.path,
        scratch: path.join(this.dir, `sandbox-${n}`),
        onOutput: (chunk, stream) => {
          if (stream === 'stdout') stdout += chunk.toString();
          else stderr += chunk.toString();
          rest.onOutput?.(chunk, stream);
        },
      });
      const entries = await rootfs.diff();
      await inspect?.(entries);
      return { ...result, stdout, stderr, entries, lines: await entryLines(entries) };
    } finally {
      await rootfs.release();
    }
  }

  async dispose(): Promise<void> {
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}

export async function entryLines(entries: readonly LayerEntry[]): Promise<string[]> {
  const out: string[] = [];
  for (const e of entries) {
    let line = `${e.type} ${e.path}`;
    if (e.type !== 'whiteout' && e.type !== 'opaque')
      line += ` ${(e.mode ?? 0).toString(8)} ${e.uid}:${e.gid}`;
    if (e.type === 'file' && typeof e.content === 'string')
      line += ` ${JSON.stringify(await fsp.readFile(e.content, 'utf8'))}`;
    if (e.type === 'symlink' || e.type === 'hardlink') line += ` -> ${e.target}`;
    out.push(line);
  }
  return out;
}
