/**
 * Tests that need real separate processes (locks under SIGKILL, concurrent index updates) cannot run the
 * TypeScript sources directly in a child `node`. This transpiles the named source folders to CommonJS in a
 * temp dir once per test file, so a child can `require()` the same code the tests check.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const REPO = path.resolve(__dirname, '..', '..');

/** Transpile `src/<dir>` for each dir (and the ground floor: `src/errors.ts`, `src/store/`) into `<out>/src/...`; returns `<out>/src`. */
export async function transpileSources(out: string, dirs: string[]): Promise<string> {
  const files = [path.join(REPO, 'src', 'errors.ts')];
  for (const dir of new Set(['store', ...dirs])) files.push(...(await listTs(path.join(REPO, 'src', dir))));
  for (const file of files) {
    const source = await fsp.readFile(file, 'utf8');
    const js = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
      fileName: file,
    }).outputText;
    const dest = path.join(out, path.relative(REPO, file)).replace(/\.ts$/, '.js');
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await fsp.writeFile(dest, js);
  }
  return path.join(out, 'src');
}

/** Environment for a child that requires transpiled sources: bare imports resolve from the repo's deps. */
export function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, NODE_PATH: path.join(REPO, 'node_modules') };
}

async function listTs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listTs(p)));
    else if (entry.name.endsWith('.ts')) out.push(p);
  }
  return out;
}
