/**
 * Dependency installs: the commands that fetch (or build) a project's dependencies from its manifests — `npm ci`,
 * `pip install -r requirements.txt`, `go mod download`… — and the manifests each reads, so that a rule can tell
 * whether those were copied before the install. Adding packages by name (`npm install -g tsx`, `pip install
 * flask`) is not an install from a manifest and is not counted.
 */
import { goMatch } from '../context';
import { goClean } from '../go/path';
import { positionals } from './shell-commands';

export interface Ecosystem {
  id: string;
  /** Basename patterns of the files the install reads (Go globs). */
  manifests: string[];
  /** The manifests to name in advice. */
  shown: string;
}

const ECOSYSTEMS: Record<string, Ecosystem> = {
  npm: {
    id: 'npm',
    manifests: ['package.json', 'package-lock.json', 'npm-shrinkwrap.json'],
    shown: 'package.json, package-lock.json',
  },
  yarn: {
    id: 'yarn',
    manifests: ['package.json', 'yarn.lock', '.yarnrc.yml'],
    shown: 'package.json, yarn.lock',
  },
  pnpm: {
    id: 'pnpm',
    manifests: ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml'],
    shown: 'package.json, pnpm-lock.yaml',
  },
  bun: { id: 'bun', manifests: ['package.json', 'bun.lock', 'bun.lockb'], shown: 'package.json, bun.lock' },
  pip: {
    id: 'pip',
    manifests: ['requirements*.txt', 'requirements', 'constraints*.txt'],
    shown: 'requirements.txt',
  },
  pipenv: { id: 'pipenv', manifests: ['Pipfile', 'Pipfile.lock'], shown: 'Pipfile, Pipfile.lock' },
  poetry: {
    id: 'poetry',
    manifests: ['pyproject.toml', 'poetry.lock'],
    shown: 'pyproject.toml, poetry.lock',
  },
  uv: { id: 'uv', manifests: ['pyproject.toml', 'uv.lock'], shown: 'pyproject.toml, uv.lock' },
  bundler: {
    id: 'bundler',
    manifests: ['Gemfile', 'Gemfile.lock', '*.gemspec'],
    shown: 'Gemfile, Gemfile.lock',
  },
  go: { id: 'go', manifests: ['go.mod', 'go.sum', 'go.work', 'go.work.sum'], shown: 'go.mod, go.sum' },
  cargo: { id: 'cargo', manifests: ['Cargo.toml', 'Cargo.lock'], shown: 'Cargo.toml, Cargo.lock' },
  composer: {
    id: 'composer',
    manifests: ['composer.json', 'composer.lock'],
    shown: 'composer.json, composer.lock',
  },
  maven: { id: 'maven', manifests: ['pom.xml'], shown: 'pom.xml' },
  gradle: {
    id: 'gradle',
    manifests: [
      'build.gradle',
      'build.gradle.kts',
      'settings.gradle',
      'settings.gradle.kts',
      'gradle.properties',
      'gradle',
    ],
    shown: 'build.gradle, settings.gradle',
  },
  dotnet: {
    id: 'dotnet',
    manifests: ['*.csproj', '*.fsproj', '*.vbproj', '*.sln', 'packages.lock.json', 'Directory.*.props'],
    shown: 'the *.csproj files',
  },
  mix: { id: 'mix', manifests: ['mix.exs', 'mix.lock'], shown: 'mix.exs, mix.lock' },
};

export interface Install {
  ecosystem: Ecosystem;
  /** The command as shown in advice: `npm ci`, `pip install -r requirements.txt`. */
  label: string;
  /** For `pip install -r FILE`: the files it names (their paths as written). */
  files: string[];
}

/** npm flags that take a value as the next word. */
const NPM_VALUE_FLAGS = new Set([
  '--prefix',
  '-w',
  '--workspace',
  '--omit',
  '--include',
  '--registry',
  '--cache',
]);

function withoutFlagValues(words: readonly string[], valueFlags: ReadonlySet<string>): string[] {
  return words.filter((w, i) => !valueFlags.has(words[i - 1] ?? ''));
}

const NODE_TOOLS: Record<string, string> = { npm: 'npm', yarn: 'yarn', pnpm: 'pnpm', bun: 'bun' };

/** The install one simple command is, if it is one. */
export function installOf(words: readonly string[]): Install | undefined {
  const tool = words[0]?.replace(/^.*\//, '');
  if (tool === undefined) return undefined;
  const args = positionals(withoutFlagValues(words, NPM_VALUE_FLAGS));
  const global = words.includes('-g') || words.includes('--global');
  const make = (id: string, label: string, files: string[] = []): Install => ({
    ecosystem: ECOSYSTEMS[id],
    label,
    files,
  });
  const node = NODE_TOOLS[tool];
  if (node !== undefined) {
    if (global) return undefined;
    const [sub, ...rest] = args;
    if (tool === 'npm' && sub === 'ci') return make('npm', 'npm ci');
    if (tool === 'yarn' && sub === undefined) return make('yarn', 'yarn');
    if (tool === 'pnpm' && sub === 'fetch') return make('pnpm', 'pnpm fetch');
    if ((sub === 'install' || sub === 'i') && rest.length === 0) return make(node, `${tool} ${sub}`);
    return undefined;
  }
  const pip = pipArgs(words);
  if (pip !== undefined) {
    if (pip[0] !== 'install') return undefined;
    const files: string[] = [];
    for (let i = 1; i < pip.length; i++) {
      const w = pip[i];
      if (w === '-r' || w === '--requirement') {
        if (pip[i + 1] !== undefined) files.push(pip[++i]);
      } else if (w.startsWith('--requirement=')) files.push(w.slice('--requirement='.length));
      else if (w.startsWith('-r') && w.length > 2) files.push(w.slice(2));
    }
    if (files.length === 0) return undefined;
    return make('pip', `pip install -r ${files.join(' -r ')}`, files);
  }
  const [sub, sub2] = args;
  switch (tool) {
    case 'pipenv':
      return (sub === 'install' && sub2 === undefined) || sub === 'sync'
        ? make('pipenv', `pipenv ${sub}`)
        : undefined;
    case 'poetry':
      return sub === 'install' ? make('poetry', 'poetry install') : undefined;
    case 'uv':
      return sub === 'sync' ? make('uv', 'uv sync') : undefined;
    case 'bundle':
      return sub === 'install' ? make('bundler', 'bundle install') : undefined;
    case 'go':
      return sub === 'mod' && sub2 === 'download' ? make('go', 'go mod download') : undefined;
    case 'cargo':
      return sub === 'fetch' || sub === 'build' ? make('cargo', `cargo ${sub}`) : undefined;
    case 'composer':
      return sub === 'install' ? make('composer', 'composer install') : undefined;
    case 'mvn':
    case 'mvnw': {
      const goal = args.find((a) => a === 'dependency:go-offline' || a === 'dependency:resolve');
      return goal !== undefined ? make('maven', `${tool} ${goal}`) : undefined;
    }
    case 'gradle':
    case 'gradlew':
      return args.includes('dependencies') ? make('gradle', `${tool} dependencies`) : undefined;
    case 'dotnet':
      return sub === 'restore' ? make('dotnet', 'dotnet restore') : undefined;
    case 'mix':
      return sub === 'deps.get' ? make('mix', 'mix deps.get') : undefined;
    default:
      return undefined;
  }
}

/** The words after `pip`, `pip3`, `python -m pip` or `uv pip`; undefined for any other command. */
function pipArgs(words: readonly string[]): string[] | undefined {
  const tool = words[0]?.replace(/^.*\//, '') ?? '';
  if (/^pip[0-9.]*$/.test(tool)) return words.slice(1).filter((w) => w !== '--no-cache-dir');
  if (/^python[0-9.]*$/.test(tool) && words[1] === '-m' && words[2] === 'pip') return words.slice(3);
  if (tool === 'uv' && words[1] === 'pip') return words.slice(2);
  return undefined;
}

/** Does a COPY source path (as written, relative to the context) bring in a manifest the install reads? */
export function copiesManifest(source: string, install: Install): boolean {
  const clean = goClean(source.replace(/^\/+/, ''));
  const base = clean.replace(/^.*\//, '');
  const matches = (pattern: string, name: string): boolean => {
    try {
      return goMatch(pattern, name);
    } catch {
      return false;
    }
  };
  for (const file of install.files) {
    const f = goClean(file.replace(/^\/+/, ''));
    // The file itself, a directory above it, or a pattern naming it.
    if (
      clean === f ||
      f.startsWith(`${clean}/`) ||
      matches(clean, f) ||
      matches(base, f.replace(/^.*\//, ''))
    )
      return true;
  }
  // Either side may be the pattern: `COPY package*.json` names package.json; requirements*.txt names the source.
  return install.ecosystem.manifests.some((m) => matches(base, m) || matches(m, base));
}
