import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { acquireCacheDir } from '../../../src/executor/sandbox/cache-mounts';
import { BuildError } from '../../../src/errors';
import type { LayerEntry } from '../../../src/layers/tar-writer';
import { hostState, tempDir, type HostState } from './support/fixtures';
import { SandboxHarness, type RuntimeChoice } from './support/harness';

/** Docker's default capability set as /proc/self/status prints it. */
const DOCKER_CAPS = '00000000a80425fb';

const marker = `/root/tsbuild-host-marker-${process.pid}`;

beforeAll(async () => {
  await fsp.writeFile(marker, 'host secret');
});
afterAll(async () => {
  await fsp.rm(marker, { force: true });
});

describe.each<RuntimeChoice>(['runc'])('runInSandbox (%s)', (choice) => {
  let h: SandboxHarness;
  let before: HostState;

  beforeAll(async () => {
    h = await SandboxHarness.create(choice);
  });
  afterAll(async () => {
    await h.dispose();
  });
  beforeEach(() => {
    before = hostState([h.dir]);
  });
  afterEach(() => {
    // Whatever the command did, the host is as it was: mounts, /, its config files, its hostname.
    expect(hostState([h.dir])).toEqual(before);
    expect(readFileSync(marker, 'utf8')).toBe('host secret');
  });

  describe('the command', () => {
    it('reports a failing command’s exit code and both output streams', async () => {
      const r = await h.run({ sh: 'echo to-stdout; echo to-stderr >&2; exit 3' });
      expect(r.exitCode).toBe(3);
      expect(r.stdout).toBe('to-stdout\n');
      expect(r.stderr).toBe('to-stderr\n');
      expect(r.runtime).toBe(choice);
    });

    it('reports a missing executable as a failure, not a crash', async () => {
      const r = await h.run({ argv: ['/no/such/binary'] });
      expect(r.exitCode).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/no such file|not found/i);
    });

    it('gets exactly the environment it is given (odd names too), plus HOME', async () => {
      const env = [
        'PATH=/usr/bin:/bin',
        'spring.profiles.active=prod',
        'my-var=with spaces and = signs',
        'PS1=$ ',
        'SHELLOPTS=custom',
        'PWD=/set/by/env',
        'IFS=,',
        'EMPTY=',
        'MULTI=line1\nline2',
        // Loader variables reach the command but never the host's own tools (which would complain, or worse).
        'LD_PRELOAD=/nonexistent/libpreload.so',
        'LD_LIBRARY_PATH=/opt/lib',
      ];
      const r = await h.run({ argv: ['/usr/bin/env', '-0'], env });
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.stdout.split('\0').filter(Boolean).sort()).toEqual([...env, 'HOME=/root'].sort());
    });

    it('passes loader variables to the command even in an image without env', async () => {
      const noEnv = path.join(h.dir, `no-env-${randomBytes(2).toString('hex')}`);
      await fsp.mkdir(path.join(noEnv, 'usr/bin'), { recursive: true });
      execFileSync('mknod', [path.join(noEnv, 'usr/bin/env'), 'c', '0', '0']); // deleted in this layer
      const run = h.run({
        extraLowers: [noEnv],
        env: ['PATH=/bin', 'LD_LIBRARY_PATH=/opt/lib'],
        sh: 'echo ran',
      });
      expect((await run).stdout).toBe('ran\n');
    });

    it('runs as the USER, looked up in the image, with its groups and HOME', async () => {
      const script = 'echo "$(id -u) $(id -g) $(id -G) $HOME"';
      expect((await h.run({ sh: script })).stdout).toBe('0 0 0 /root\n');
      expect((await h.run({ sh: script, user: 'user' })).stdout).toBe('1000 1000 1000 50 /home/user\n');
      expect((await h.run({ sh: script, user: 'user:staff' })).stdout).toBe('1000 50 50 /home/user\n');
      expect((await h.run({ sh: script, user: '1000:1234' })).stdout).toBe('1000 1234 1234 /home/user\n');
      // A uid the image does not know: group root, HOME /root (Docker's defaults).
      expect((await h.run({ sh: script, user: '4242' })).stdout).toBe('4242 0 0 /root\n');
      await expect(h.run({ user: 'nosuchuser' })).rejects.toThrow(
        /unable to find user nosuchuser: no matching entries in passwd file/,
      );
    });

    it('creates the working directory when missing, owned by the user, and keeps it in the layer', async () => {
      const r = await h.run({ sh: 'pwd; touch here', workdir: '/app/src', user: 'user' });
      expect(r.stdout).toBe('/app/src\n');
      expect(r.lines).toEqual([
        'dir app 755 1000:1000',
        'dir app/src 755 1000:1000',
        'file app/src/here 644 1000:1000 ""',
      ]);
    });

    it('is killed, with everything it started, when the run is aborted', async () => {
      const abort = new AbortController();
      const started = Date.now();
      setTimeout(() => abort.abort(), 500);
      const r = await h.run({ sh: 'sleep 60 & sleep 60', signal: abort.signal });
      expect(r.exitCode).toBe(137);
      expect(Date.now() - started).toBeLessThan(15_000);
      // Aborted before it could even start: the same answer, not a sandbox error.
      const early = new AbortController();
      early.abort();
      expect((await h.run({ sh: 'sleep 60', signal: early.signal })).exitCode).toBe(137);
    });
  });

  describe('the layer', () => {
    it('holds exactly what the command created, deleted, replaced, renamed, chmod-ed and chown-ed', async () => {
      const layer1 = path.join(h.dir, 'layer1');
      await fsp.mkdir(layer1);
      const r = await h.run({
        inspect: (entries) => materialize(entries, layer1),
        sh: [
          'set -e',
          'mkdir -p /srv/data/old /srv/keep',
          'echo a > /srv/data/a; echo b > /srv/data/b; echo old > /srv/data/old/x; echo k > /srv/keep/k',
          'echo 1 > /srv/f1; ln /srv/f1 /srv/f1-link; ln -s f1 /srv/f1-sym',
          'mkfifo /srv/fifo',
        ].join('\n'),
      });
      expect(r.exitCode).toBe(0);
      // Take that layer as a lower dir and change it in a second RUN.
      const r2 = await h.run({
        extraLowers: [layer1],
        sh: [
          'set -e',
          'echo new > /srv/new',
          'rm /srv/data/a',
          'echo replaced > /srv/data/b',
          'mv /srv/keep /srv/kept',
          'chmod 600 /srv/f1-link',
          'chown 1000:50 /srv/data',
          'rm -rf /srv/data/old && mkdir /srv/data/old && echo fresh > /srv/data/old/y',
          'rm /bin/busybox-not-there 2>/dev/null || true',
          'rm /usr/bin/wc',
        ].join('\n'),
      });
      expect(r2.stderr).toBe('');
      expect(r2.exitCode).toBe(0);
      expect(r2.lines).toEqual([
        'dir srv 755 0:0',
        'dir srv/data 755 1000:50',
        'whiteout srv/data/a',
        'file srv/data/b 644 0:0 "replaced\\n"',
        'dir srv/data/old 755 0:0',
        'opaque srv/data/old',
        'file srv/data/old/y 644 0:0 "fresh\\n"',
        // A copy-up breaks a lower hardlink (overlayfs with index=off, as Docker's and buildah's drivers).
        'file srv/f1-link 600 0:0 "1\\n"',
        'whiteout srv/keep',
        'dir srv/kept 755 0:0',
        'file srv/kept/k 644 0:0 "k\\n"',
        'file srv/new 644 0:0 "new\\n"',
        'dir usr 755 0:0',
        'dir usr/bin 755 0:0',
        'whiteout usr/bin/wc',
      ]);
    });

    it('does not hold /etc/hosts, /etc/resolv.conf or any mount point the sandbox made', async () => {
      const r = await h.run({
        sh: 'cat /etc/hosts; cat /etc/resolv.conf; hostname',
        hosts: '10.1.2.3 db\n',
        resolvConf: 'nameserver 10.9.9.9\n',
        mounts: [
          { type: 'tmpfs', target: '/scratch/tmp' },
          { type: 'file', target: '/run/secrets/s', content: Buffer.from('x'), mode: 0o400, uid: 0, gid: 0 },
        ],
      });
      expect(r.stdout).toBe('10.1.2.3 db\nnameserver 10.9.9.9\nbuildkitsandbox\n');
      expect(r.entries).toEqual([]);
    });

    it('gives /etc/hosts with localhost, slirp4netns’s DNS by default and the host’s resolv.conf with host networking', async () => {
      const script = 'cat /etc/hosts; echo ---; cat /etc/resolv.conf';
      const [hosts, resolv] = (await h.run({ sh: script })).stdout.split('---\n');
      expect(hosts).toMatch(/^127\.0\.0\.1\s+localhost buildkitsandbox$/m);
      expect(resolv).toBe('nameserver 10.0.2.3\n');
      const onHost = (await h.run({ sh: script, network: 'host' })).stdout.split('---\n')[1];
      expect(onHost).toBe(readFileSync('/etc/resolv.conf', 'utf8'));
    });
  });

  describe('isolation', () => {
    it('cannot write to the host’s /: what it writes stays in its rootfs', async () => {
      const name = `tsbuild-escape-${randomBytes(4).toString('hex')}`;
      const r = await h.run({ sh: `echo x > /${name} && echo y > /etc/${name}` });
      expect(r.exitCode).toBe(0);
      expect(existsSync(`/${name}`)).toBe(false);
      expect(existsSync(`/etc/${name}`)).toBe(false);
      expect(r.lines).toEqual([
        `dir etc 755 0:0`,
        `file etc/${name} 644 0:0 "y\\n"`,
        `file ${name} 644 0:0 "x\\n"`,
      ]);
    });

    it('cannot read the host’s /root', async () => {
      const r = await h.run({ sh: `ls -a /root; cat ${marker}` });
      expect(r.stdout).toBe('.\n..\n');
      expect(r.exitCode).not.toBe(0);
      expect(r.stdout + r.stderr).not.toContain('host secret');
    });

    it('sees only its own processes', async () => {
      const r = await h.run({ argv: ['/bin/ps', '-o', 'pid,comm'] });
      expect(r.stdout.trim().split('\n')).toEqual(['PID   COMMAND', '    1 ps']);
      const r2 = await h.run({ sh: 'sleep 5 & sleep 0.3; ps -o pid,comm; true' });
      const procs = r2.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/));
      expect(procs.map(([, comm]) => comm)).toEqual(['sh', 'sleep', 'ps']);
      expect(procs[0]?.[0]).toBe('1');
    });

    it('cannot climb out with .. or absolute symlinks', async () => {
      const r = await h.run({
        sh: [
          'ln -s ../../../../../../../../../root /tmp/up',
          'ln -s / /tmp/abs',
          `ls -a /tmp/up/; ls /tmp/abs/root/ | wc -l; cat /tmp/up/${path.basename(marker)} || echo unreadable`,
        ].join('; '),
      });
      expect(r.stdout).toBe('.\n..\n0\nunreadable\n');
    });

    it('mounts over a symlinked target inside its rootfs, never at the host path the link names', async () => {
      const evil = `/tmp/tsbuild-evil-${randomBytes(4).toString('hex')}`;
      const layer = path.join(h.dir, `evil-${randomBytes(2).toString('hex')}`);
      await fsp.mkdir(path.join(layer, 'etc'), { recursive: true });
      await fsp.symlink(`../../../../../../..${evil}/resolv.conf`, path.join(layer, 'etc/resolv.conf'));
      const r = await h.run({
        extraLowers: [layer],
        sh: 'cat /etc/resolv.conf',
        resolvConf: 'nameserver 1.1.1.1\n',
      });
      expect(r.stdout).toBe('nameserver 1.1.1.1\n');
      expect(existsSync(evil)).toBe(false);
      expect(r.entries).toEqual([]); // the mount point made inside the rootfs is gone again
    });

    it('runs with Docker’s capabilities, no new privileges, its own hostname', async () => {
      const r = await h.run({ sh: 'grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status; hostname' });
      expect(r.stdout).toBe(
        `CapEff:\t${DOCKER_CAPS}\nCapBnd:\t${DOCKER_CAPS}\nNoNewPrivs:\t1\nbuildkitsandbox\n`,
      );
      const u = await h.run({ user: 'user', sh: 'grep -E "^(CapEff|CapBnd)" /proc/self/status' });
      expect(u.stdout).toBe(`CapEff:\t0000000000000000\nCapBnd:\t${DOCKER_CAPS}\n`);
    });

    it('cannot change kernel settings or see masked /proc files', async () => {
      const r = await h.run({
        sh: [
          'v=$(cat /proc/sys/kernel/printk_ratelimit); (echo "$v" > /proc/sys/kernel/printk_ratelimit) 2>/dev/null && echo sysctl-writable',
          '(echo h > /proc/sysrq-trigger) 2>/dev/null && echo sysrq-writable',
          'echo kcore=$(head -c 16 /proc/kcore 2>/dev/null | wc -c)',
          'echo timers=$(cat /proc/timer_list 2>/dev/null | wc -c)',
          'echo > /sys/kernel/profiling 2>/dev/null && echo sys-writable',
          'true',
        ].join('\n'),
      });
      expect(r.stdout).toBe('kcore=0\ntimers=0\n');
    });

    it('has a minimal /dev, and device nodes it makes cannot be opened', async () => {
      const r = await h.run({
        sh: [
          'ls /dev | sort | tr "\\n" " "; echo',
          'echo hi > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c',
          'mknod /tmp/mem c 1 1 && echo made',
          'head -c 1 /tmp/mem >/dev/null 2>&1 && echo READ-MEM || echo denied',
        ].join('\n'),
      });
      expect(r.stdout.split('\n')[0]).toBe(
        'console? fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero '.replace(
          'console? ',
          '',
        ),
      );
      expect(r.stdout.split('\n').slice(1).join('\n')).toBe('4\n4\nmade\ndenied\n');
    });

    it('has its own network by default (loopback and slirp4netns’s tap0), only loopback with none, the host’s with host', async () => {
      const own = await h.run({ sh: 'ls /sys/class/net | sort; ip -o -4 addr show tap0' });
      expect(own.stdout).toMatch(/^lo\ntap0\n.*inet 10\.0\.2\.100\//s);
      const none = await h.run({ network: 'none', sh: 'ls /sys/class/net; ip -o link | grep -c UP' });
      expect(none.stdout).toBe('lo\n1\n');
      const hostIfs = readdirSync('/sys/class/net').filter((n) => n !== 'lo');
      const host = await h.run({ network: 'host', sh: 'ls /sys/class/net | sort' });
      expect(host.stdout.trim().split('\n')).toEqual(expect.arrayContaining(hostIfs));
    });

    it('runs under Docker’s default seccomp filter: no user namespaces, no mounts', async () => {
      const r = await h.run({
        sh: 'grep ^Seccomp: /proc/self/status; unshare -U true 2>&1 || echo no-userns; mount -t tmpfs t /mnt 2>&1 || echo no-mount',
      });
      expect(r.stdout).toMatch(/^Seccomp:\s+2\n/);
      expect(r.stdout).toContain('no-userns');
      expect(r.stdout).toContain('no-mount');
    });

    it('cannot reach a service on the host’s loopback, but reaches the outside world', async () => {
      const server = http.createServer((_req, res) => res.end('host secret'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      try {
        // busybox's nc (its wget crashes in this minimal rootfs); the same probe reaches it on the host network.
        const probe = (addr: string): string =>
          `echo | nc -w 3 ${addr} ${port} >/dev/null 2>&1 && echo reached || echo unreachable`;
        expect((await h.run({ network: 'host', sh: probe('127.0.0.1') })).stdout).toBe('reached\n');
        for (const addr of ['127.0.0.1', '10.0.2.2'])
          expect((await h.run({ sh: probe(addr) })).stdout).toBe('unreachable\n');
        // Debian's mirror is the one outside host this machine reaches (apt sources): DNS and a TCP connection.
        const out = await h.run({
          // A connection through this machine's intercepting network sometimes comes back empty (twice in a row seen in
          // CI): retry, for up to about a minute and a half.
          sh:
            "for i in 1 2 3 4 5 6; do r=$(printf 'GET /debian/ HTTP/1.0\\r\\nHost: deb.debian.org\\r\\n\\r\\n' | " +
            'nc -w 10 deb.debian.org 80 | head -1); [ -n "$r" ] && break; sleep 2; done; echo "$r"',
        });
        expect(out.stdout).toMatch(/^HTTP\/1\.[01] \d{3}/);
      } finally {
        server.close();
      }
    });
  });

  describe('mounts', () => {
    let ctx: string;
    beforeEach(async () => {
      ctx = await tempDir('ctx');
      await fsp.writeFile(path.join(ctx, 'package.json'), '{"name":"x"}');
      await fsp.mkdir(path.join(ctx, 'src'));
    });
    afterEach(async () => {
      await fsp.rm(ctx, { recursive: true, force: true });
    });

    it('binds a host directory read-only: readable, not writable, not in the layer', async () => {
      const r = await h.run({
        mounts: [{ type: 'bind', source: ctx, target: '/ctx', readOnly: true }],
        sh: 'cat /ctx/package.json; echo; touch /ctx/new 2>/dev/null || echo read-only',
      });
      expect(r.stdout).toBe('{"name":"x"}\nread-only\n');
      expect(r.entries).toEqual([]);
      expect((await fsp.readdir(ctx)).sort()).toEqual(['package.json', 'src']);
    });

    it('gives a tmpfs whose content vanishes, and makes nested mount points inside it', async () => {
      const r = await h.run({
        mounts: [
          { type: 'tmpfs', target: '/work' },
          {
            type: 'file',
            target: '/work/deep/cfg',
            content: Buffer.from('cfg'),
            mode: 0o444,
            uid: 0,
            gid: 0,
          },
        ],
        sh: 'echo tmp > /work/file; cat /work/deep/cfg; mount | grep -c " /work "',
      });
      expect(r.stdout).toBe('cfg1\n');
      expect(r.entries).toEqual([]);
    });

    it('refuses a mount point that would have to be created in a read-only source', async () => {
      await expect(
        h.run({
          mounts: [
            { type: 'bind', source: ctx, target: '/ctx', readOnly: true },
            { type: 'tmpfs', target: '/ctx/node_modules' },
          ],
        }),
      ).rejects.toThrow(BuildError);
      expect((await fsp.readdir(ctx)).sort()).toEqual(['package.json', 'src']);
      // An existing one is fine.
      const r = await h.run({
        mounts: [
          { type: 'bind', source: ctx, target: '/ctx', readOnly: true },
          { type: 'tmpfs', target: '/ctx/src' },
        ],
        sh: 'touch /ctx/src/x && echo ok',
      });
      expect(r.stdout).toBe('ok\n');
    });

    it('keeps a cache directory between runs, out of every layer', async () => {
      const root = await tempDir('cache-root');
      try {
        const run = async (script: string): Promise<string[]> => {
          const cache = await acquireCacheDir(root, { id: 'npm', sharing: 'locked' });
          try {
            const r = await h.run({
              mounts: [
                { type: 'bind', source: cache.dir, target: '/root/.npm', readOnly: false, owned: true },
              ],
              sh: script,
            });
            expect(r.exitCode).toBe(0);
            return [r.stdout, ...r.lines];
          } finally {
            await cache.release();
          }
        };
        expect(await run('echo pkg > /root/.npm/pkg; mkdir -p /root/.npm/sub/dir; echo done')).toEqual([
          'done\n',
        ]);
        expect(await run('cat /root/.npm/pkg; ls /root/.npm/sub')).toEqual(['pkg\ndir\n']);
      } finally {
        await fsp.rm(root, { recursive: true, force: true });
      }
    });

    it('lets a secret be read but leaves no trace of it in the rootfs, the layer or the scratch space', async () => {
      const secret = `S3CRET-${randomBytes(8).toString('hex')}`;
      const r = await h.run({
        mounts: [
          {
            type: 'file',
            target: '/run/secrets/token',
            content: Buffer.from(secret),
            mode: 0o400,
            uid: 1000,
            gid: 1000,
          },
        ],
        env: ['PATH=/usr/bin:/bin', `TOKEN=${secret}`],
        user: 'user',
        sh: 'test "$(cat /run/secrets/token)" = "$TOKEN" && echo match; stat -c "%a %u" /run/secrets/token; echo saw > /tmp/out',
      });
      expect(r.stdout).toBe('match\n400 1000\n');
      expect(r.lines).toEqual(['dir tmp 1777 0:0', 'file tmp/out 644 1000:1000 "saw\\n"']);
      const leftovers = await grepTree(h.dir, secret);
      expect(leftovers).toEqual([]);
    });
  });
});

describe('runInSandbox (crun, cgroups skipped)', () => {
  let h: SandboxHarness;
  beforeAll(async () => {
    h = await SandboxHarness.create('crun');
  });
  afterAll(async () => {
    await h.dispose();
  });

  it('runs, isolates and diffs the same way', async () => {
    const before = hostState([h.dir]);
    const r = await h.run({ sh: 'echo hi > /hello; ps -o pid,comm | wc -l; ls -a /root; exit 4' });
    expect(r.runtime).toBe('crun');
    expect(r.exitCode).toBe(4);
    expect(r.stdout).toBe('4\n.\n..\n');
    expect(r.lines).toEqual(['file hello 644 0:0 "hi\\n"']);
    expect(hostState([h.dir])).toEqual(before);
  });
});

/** Write a run's entries into a directory, as the snapshot of that layer (it has no whiteouts). */
async function materialize(entries: LayerEntry[], dir: string): Promise<void> {
  for (const e of entries) {
    const p = path.join(dir, e.path);
    if (e.type === 'dir') await fsp.mkdir(p, { recursive: true });
    else if (e.type === 'file') await fsp.copyFile(e.content as string, p);
    else if (e.type === 'symlink') await fsp.symlink(e.target, p);
    else if (e.type === 'hardlink') await fsp.link(path.join(dir, e.target), p);
    else if (e.type === 'fifo') execFileSync('mkfifo', [p]);
    else throw new Error(`unexpected ${e.type} in the first layer`);
    if (e.type !== 'symlink' && e.type !== 'hardlink') await fsp.chmod(p, e.mode ?? 0o644);
  }
}

/** Files under `dir` whose content contains `needle`. */
async function grepTree(dir: string, needle: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && (await fsp.readFile(p)).includes(needle)) out.push(p);
    }
  };
  await walk(dir);
  return out;
}
