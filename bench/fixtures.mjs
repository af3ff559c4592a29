// Deterministic benchmark fixtures: build contexts generated from a seeded PRNG, so nothing large lives in git
// and every machine gets byte-identical trees.
//
//   node bench/fixtures.mjs OUT_DIR [--quick] [--base REF] [--only NAME,…]   writes OUT_DIR/{node-like,large,multistage}
//
// The runner (bench/run.mjs) imports the generators and the mutations (editSource, editManifest).
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { Buffer } from 'node:buffer';
import * as path from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

/** Sizes of the fixtures: the default is what issue 7 asks for, `quick` is for trying the harness out. */
export const SIZES = {
  default: {
    nodeLike: {
      sources: 2000,
      junkFiles: 400,
      junkBytes: 100 * 1024 * 1024,
      runFiles: 1000,
      runBytes: 20 << 20,
    },
    large: { files: 50000, bytes: 500 * 1024 * 1024 },
    multistage: { filesPerStage: 100, bytesPerFile: 40 * 1024 },
  },
  quick: {
    nodeLike: { sources: 500, junkFiles: 40, junkBytes: 10 * 1024 * 1024, runFiles: 250, runBytes: 5 << 20 },
    large: { files: 5000, bytes: 50 * 1024 * 1024 },
    multistage: { filesPerStage: 40, bytesPerFile: 32 * 1024 },
  },
};

/** mulberry32: a tiny seeded PRNG, good enough for test data (not for anything secret). */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
  };
}

const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'ne',
  'ru',
  'sta',
  'ter',
  'vo',
  'xi',
  'qua',
  'bel',
  'dor',
  'fin',
  'gar',
  'hub',
];
const KEYWORDS = [
  'const',
  'let',
  'return',
  'function',
  'if',
  'else',
  'await',
  'export',
  'import',
  'new',
  'for',
];

function wordList(rand, n) {
  const words = [];
  for (let i = 0; i < n; i++) {
    let w = '';
    const len = 1 + rand.int(4);
    for (let j = 0; j < len; j++) w += rand.pick(SYLLABLES);
    words.push(w);
  }
  return words;
}

/** A pool of text that compresses like source code (~3-4x), to slice file contents from. */
function textPool(seed, bytes) {
  const rand = prng(seed);
  const words = wordList(rand, 4000);
  const parts = [];
  let size = 0;
  while (size < bytes) {
    const indent = '  '.repeat(rand.int(4));
    const n = 3 + rand.int(9);
    let line = indent + rand.pick(KEYWORDS);
    for (let i = 0; i < n; i++) line += (i % 3 === 2 ? '(' : ' ') + rand.pick(words);
    line += rand.int(5) === 0 ? ` = ${rand.int(100000)};\n` : ';\n';
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

/** A pool of incompressible bytes (like images, archives, binaries). */
function binaryPool(seed, bytes) {
  const rand = prng(seed);
  const buf = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) buf.writeUInt32LE((rand.next() * 4294967296) >>> 0, i);
  return buf;
}

/** `size` bytes of `pool` from a random offset (the pools are larger than any file). */
function slice(pool, rand, size) {
  if (size > pool.length) throw new Error(`fixture file of ${size} bytes is larger than its pool`);
  const start = rand.int(pool.length - size + 1);
  return pool.subarray(start, start + size);
}

/** Writes many files with bounded concurrency (sequential writes of 50,000 files are needlessly slow). */
async function writeAll(files, concurrency = 32) {
  const dirs = new Set(files.map((f) => path.dirname(f.path)));
  for (const dir of [...dirs].sort()) await fsp.mkdir(dir, { recursive: true });
  let i = 0;
  const worker = async () => {
    while (i < files.length) {
      const f = files[i++];
      await fsp.writeFile(f.path, f.data, { mode: 0o644 });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Sizes drawn log-uniformly between 1 and `spread`, scaled so they add up to `total` bytes. */
function sizesFor(rand, count, total, spread) {
  const w = Array.from({ length: count }, () => Math.exp(rand.next() * Math.log(spread)));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => Math.max(1, Math.floor((x / sum) * total)));
}

async function fresh(dir) {
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true });
}

const DEPENDENCIES = [
  'express',
  'lodash',
  'left-pad',
  'react',
  'chalk',
  'debug',
  'yargs',
  'zod',
  'ws',
  'uuid',
];

function manifest(edit) {
  const deps = {};
  DEPENDENCIES.forEach((d, i) => (deps[d] = `^${i + 1}.${i * 3}.0`));
  if (edit > 0) deps['left-pad'] = `^1.${edit}.0`;
  return `${JSON.stringify({ name: 'bench-app', version: '1.0.0', private: true, dependencies: deps }, null, 2)}\n`;
}

/**
 * The RUN of node-like: `npm install` without a network. It writes `files` files of equal size, `bytes` in all,
 * whose content depends on package.json, with shell builtins only (one `yes | head` for the text, one mkdir per
 * 25 files): the same bytes on every run and every tool.
 */
function installScript(files, bytes) {
  const size = Math.floor(bytes / files);
  return (
    `s=$(yes "$(md5sum package.json)" | head -c ${size - 8}) && i=0 && ` +
    `while [ $i -lt ${files} ]; do ` +
    `if [ $((i % 25)) -eq 0 ]; then d=node_modules/pkg$((i / 25)); mkdir -p $d; fi; ` +
    `printf '%s %6d\\n' "$s" $i > $d/index$i.js; i=$((i + 1)); done`
  );
}

/** node-like: a JavaScript service with a dependency install step and a big ignored junk folder. */
export async function generateNodeLike(dir, base, size) {
  await fresh(dir);
  const rand = prng(0x6e6f6465);
  const pool = textPool(1, 8 << 20);
  const junkPool = binaryPool(2, 16 << 20);
  const files = [];
  const dirs = Math.ceil(size.sources / 40);
  for (let i = 0; i < size.sources; i++) {
    const sub = `src/mod${String(i % dirs).padStart(3, '0')}`;
    const name = `file${String(i).padStart(4, '0')}.js`;
    const len = 200 + rand.int(3800);
    files.push({ path: path.join(dir, sub, name), data: slice(pool, rand, len) });
  }
  const junkSizes = sizesFor(rand, size.junkFiles, size.junkBytes, 50);
  junkSizes.forEach((len, i) => {
    const sub = `junk/build${String(i % 20).padStart(2, '0')}`;
    files.push({ path: path.join(dir, sub, `artifact${i}.bin`), data: slice(junkPool, rand, len) });
  });
  files.push({ path: path.join(dir, 'package.json'), data: manifest(0) });
  files.push({ path: path.join(dir, 'README.md'), data: '# bench-app\n\nA generated fixture for bench/.\n' });
  files.push({ path: path.join(dir, '.dockerignore'), data: 'junk\n*.log\n' });
  files.push({
    path: path.join(dir, 'Dockerfile'),
    data: [
      `FROM ${base}`,
      'WORKDIR /app',
      'COPY package.json ./',
      `RUN ${installScript(size.runFiles, size.runBytes)}`,
      'COPY . .',
      'ENV NODE_ENV=production PORT=8080',
      'CMD ["sh", "-c", "ls /app"]',
      '',
    ].join('\n'),
  });
  await writeAll(files);
  return describe(dir, { ignored: 'junk/' });
}

/** large: ~50,000 files, ~500 MB (70% text-like, 30% incompressible), FROM scratch + COPY . /data. */
export async function generateLarge(dir, size) {
  await fresh(dir);
  const rand = prng(0x6c617267);
  const text = textPool(3, 32 << 20);
  const bin = binaryPool(4, 32 << 20);
  const sizes = sizesFor(rand, size.files, size.bytes, 2000);
  const perDir = 100;
  const files = sizes.map((len, i) => {
    const d = Math.floor(i / perDir);
    const sub = `tree/d${String(Math.floor(d / 25)).padStart(2, '0')}/s${String(d % 25).padStart(2, '0')}`;
    const binary = rand.next() < 0.3;
    return {
      path: path.join(dir, sub, `f${String(i).padStart(5, '0')}${binary ? '.bin' : '.txt'}`),
      data: slice(binary ? bin : text, rand, len),
    };
  });
  files.push({ path: path.join(dir, 'Dockerfile'), data: 'FROM scratch\nCOPY . /data\n' });
  await writeAll(files);
  return describe(dir, {});
}

/**
 * multistage: three independent builder stages, each compressing and checksumming its own sources (real CPU
 * work in the sandbox, one process per tool and file, as a compiler would), and a final stage that copies the three results.
 */
export async function generateMultistage(dir, base, size) {
  await fresh(dir);
  const rand = prng(0x6d756c74);
  const pool = textPool(5, 16 << 20);
  const files = [];
  const stages = ['alpha', 'beta', 'gamma'];
  for (const stage of stages) {
    for (let i = 0; i < size.filesPerStage; i++) {
      const name = `unit${String(i).padStart(3, '0')}.src`;
      files.push({ path: path.join(dir, stage, name), data: slice(pool, rand, size.bytesPerFile) });
    }
  }
  const work =
    'mkdir -p /out && for f in *.src; do ' +
    'gzip -9 -c "$f" > "/out/$f.gz"; bzip2 -9 -c "$f" | sha256sum >> /out/SUMS; done';
  const lines = [];
  for (const stage of stages) {
    lines.push(`FROM ${base} AS build-${stage}`, 'WORKDIR /src', `COPY ${stage}/ ./`, `RUN ${work}`, '');
  }
  lines.push(`FROM ${base}`);
  for (const stage of stages) lines.push(`COPY --from=build-${stage} /out /app/${stage}`);
  lines.push('CMD ["ls", "-R", "/app"]', '');
  files.push({ path: path.join(dir, 'Dockerfile'), data: lines.join('\n') });
  await writeAll(files);
  return { ...(await describe(dir, {})), stages: stages.map((s) => `build-${s}`) };
}

/** The source file that "one source file edited" touches. */
/**
 * debian-layers (issue 12): a Debian base, a RUN writing ~120 MB in ~6,000 files (a copy of /usr), then the small
 * steps that used to pay for the big layer: a small RUN, `COPY --chown=NAME` (a passwd lookup in the stage) and a
 * second stage's `COPY --from`. No network in the RUNs.
 */
export async function generateDebianLayers(dir, debian, busybox) {
  await fresh(dir);
  await writeAll([
    { path: path.join(dir, 'x.txt'), data: 'x\n' },
    {
      path: path.join(dir, 'Dockerfile'),
      data: [
        `FROM ${debian}`,
        'RUN cp -a /usr /opt/usr-copy',
        'RUN echo small > /small.txt',
        'COPY --chown=nobody:nogroup x.txt /x.txt',
        `FROM ${busybox}`,
        'COPY --from=0 /small.txt /',
        '',
      ].join('\n'),
    },
  ]);
  return describe(dir, {});
}

/** Edits the file `COPY --chown` reads: the small steps after the big layer run again, the big RUN hits. */
export async function editDebianLayers(dir, n) {
  await fsp.writeFile(path.join(dir, 'x.txt'), `x ${n}\n`);
}

export const COMPILED_EDIT = 'src/unit042.c';

/**
 * compile-like (issue 12): a builder stage on the Debian base that turns 200 C-like sources into objects (each
 * checksummed and compressed, the work a compiler's loop does without needing a compiler from the network), and
 * a busybox final stage that copies the results. The scenario edits one line of one source.
 */
export async function generateCompileLike(dir, debian, busybox) {
  await fresh(dir);
  const rand = prng(0x63633132);
  const pool = textPool(4, 4 << 20);
  const files = [];
  for (let i = 0; i < 200; i++) {
    files.push({
      path: path.join(dir, 'src', `unit${String(i).padStart(3, '0')}.c`),
      data: slice(pool, rand, 8000),
    });
  }
  files.push({
    path: path.join(dir, 'Dockerfile'),
    data: [
      `FROM ${debian} AS builder`,
      'WORKDIR /build',
      'COPY src/ src/',
      'RUN mkdir -p out && for f in src/*.c; do n=$(basename "$f" .c); ' +
        'sha256sum "$f" > "out/$n.sum"; gzip -9 -c "$f" > "out/$n.o"; done && cat out/*.sum | sha256sum > out/manifest',
      `FROM ${busybox}`,
      'COPY --from=builder /build/out /app',
      'CMD ["ls", "/app"]',
      '',
    ].join('\n'),
  });
  await writeAll(files);
  return describe(dir, {});
}

export async function editCompileLike(dir, n) {
  await fsp.appendFile(path.join(dir, COMPILED_EDIT), `/* edit ${n} */\n`);
}

export const EDITED_SOURCE = 'src/mod007/file0007.js';

/** Appends a line to one source file: a real content change (size and mtime change too). */
export async function editSource(dir, n) {
  await fsp.appendFile(path.join(dir, EDITED_SOURCE), `export const benchEdit${n} = ${n};\n`);
}

/** Bumps one dependency's version in package.json: invalidates the install RUN and everything after it. */
export async function editManifest(dir, n) {
  await fsp.writeFile(path.join(dir, 'package.json'), manifest(n));
}

/** Counts files and bytes (and a digest of the listing, to show two machines generated the same tree). */
export async function describe(dir, extra) {
  let files = 0;
  let bytes = 0;
  const hash = createHash('sha256');
  const walk = async (d, rel) => {
    const entries = await fsp.readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p, r);
      else {
        const st = await fsp.stat(p);
        files++;
        bytes += st.size;
        hash.update(`${r}\0${st.size}\n`);
      }
    }
  };
  await walk(dir, '');
  return { dir, files, bytes, listingDigest: `sha256:${hash.digest('hex')}`, ...extra };
}

async function main() {
  const args = process.argv.slice(2);
  const out = args.find((a) => !a.startsWith('--'));
  if (!out) {
    process.stderr.write('usage: node bench/fixtures.mjs OUT_DIR [--quick] [--base REF] [--only NAME,…]\n');
    process.exit(2);
  }
  const size = args.includes('--quick') ? SIZES.quick : SIZES.default;
  const bi = args.indexOf('--base');
  const base = bi >= 0 ? args[bi + 1] : 'busybox:latest';
  const oi = args.indexOf('--only');
  const only = oi >= 0 ? args[oi + 1].split(',') : ['node-like', 'large', 'multistage'];
  const root = path.resolve(out);
  const generators = {
    'node-like': () => generateNodeLike(path.join(root, 'node-like'), base, size.nodeLike),
    large: () => generateLarge(path.join(root, 'large'), size.large),
    multistage: () => generateMultistage(path.join(root, 'multistage'), base, size.multistage),
  };
  const results = {};
  for (const name of only) {
    if (!(name in generators)) {
      process.stderr.write(`unknown fixture ${name} (node-like, large, multistage)\n`);
      process.exit(2);
    }
    results[name] = await generators[name]();
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    process.stderr.write(`${e.stack ?? e}\n`);
    process.exit(1);
  });
}
