#!/usr/bin/env node
// Bundles the CLIs with esbuild (called by `npm run build`, after tsc). Writes:
//
//   dist/bin/hpe3parencryptor.mjs, dist/bin/hpedockerplugin.mjs   one minified ESM file per CLI (+ .map)
//   dist/vendor/{etcd3,dockerode,express,ssh2}.cjs                heavy packages, loaded on first use (+ .map)
//   dist/proto/                                                   etcd3's .proto files, read at run time from
//                                                                 `${__dirname}/../proto` (dist/vendor/../proto)
//
// dist/bin, dist/vendor and dist/proto are all the CLIs need at run time: no node_modules.
//
// Why: start-up time. Node resolves and compiles a few files instead of ~1,000, and the start path
// (`hpedockerplugin check`, the plugin's start-up gate) neither evaluates nor even parses packages it does not
// use. Measured bundled, over an empty script: etcd3 +85 ms (grpc-js, protobufjs, parsing proto/rpc.proto),
// dockerode +95 ms (ssh2…), express +40 ms (iconv-lite…); V8 parses a bundle at ~30 MB/s, so code that is only
// carried along costs too. src/etcd reads over etcd's JSON gateway, so the start path needs none of the three.
//
// How: imports of a lazy package from src/ get a stand-in, a CommonJS module whose exports are getters that
// `require` the vendor file on first access, and, for a package that exports a function (dockerode, express), a
// function that calls or constructs the real one; src/etcd's own lazy `require('etcd3')` gets the vendor file.
// What sources can tell apart: only load timing, and `instanceof`/subclassing of the stand-in function itself,
// which no source does. The sources are the .ts files (source maps point at them); tsc type-checks them first.
import { chmod, cp, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(repo, 'dist');
const cliNames = ['hpe3parencryptor', 'hpedockerplugin'];
const lazyPackages = ['etcd3', 'dockerode', 'express', 'ssh2'];
const requireFromRepo = createRequire(join(repo, 'package.json'));
/** Where a bundle in dist/bin finds a vendor file (its `require` is relative to the bundle). */
const vendorPath = (name) => `../vendor/${name}.cjs`;

const common = {
  absWorkingDir: repo,
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  // Optional native add-ons of ssh2 (cpu-features, crypto/build/Release/sshcrypto.node): required in a try/catch,
  // so absent is fine; ssh2 then uses node:crypto only.
  external: ['cpu-features', '*.node'],
  logLevel: 'warning',
  metafile: true,
};

function standIn(name) {
  const real = requireFromRepo(name);
  const skip = new Set(['prototype', 'length', 'name', 'caller', 'arguments', '__esModule']);
  const names = Object.keys(real).filter((k) => !skip.has(k));
  const lazy = typeof real === 'function' ? 'function (...args) { return new.target ? Reflect.construct(load(), args) : load().apply(this, args); }' : '{}';
  return `let real;
const load = () => (real ??= require(${JSON.stringify(vendorPath(name))}));
const lazy = ${lazy};
for (const k of ${JSON.stringify(names)}) Object.defineProperty(lazy, k, { enumerable: true, configurable: true, get: () => load()[k] });
${real.__esModule ? "Object.defineProperty(lazy, '__esModule', { value: true });" : ''}
module.exports = lazy;
`;
}

const lazyPackagesPlugin = {
  name: 'lazy-packages',
  setup(b) {
    const src = join(repo, 'src') + sep;
    b.onResolve({ filter: new RegExp(`^(${lazyPackages.join('|')})$`) }, (args) => {
      if (!args.importer.startsWith(src)) return undefined;
      if (args.kind === 'require-call') return { path: vendorPath(args.path), external: true };
      return { path: args.path, namespace: 'lazy' };
    });
    b.onResolve({ filter: /^\.\.\/vendor\//, namespace: 'lazy' }, (args) => ({ path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({ contents: standIn(args.path), resolveDir: repo, loader: 'js' }));
  },
};

/**
 * zod re-exports all ~45 of its locales as `z.locales`, a third of a CLI bundle (~250 KB) that V8 must parse at every
 * start; zod itself uses `en` (`config(en())`), and src/ neither reads `z.locales` nor calls `z.config` (checked
 * below). So inside zod the locales index is only `en`.
 */
const zodLocalesPlugin = {
  name: 'zod-locales-en-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
      if (!/[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)) return undefined;
      return { path: join(dirname(args.importer), '..', 'locales', 'index.js'), namespace: 'zod-locales' };
    });
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};\n`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

async function checkNoZodLocales(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath ?? entry.path, entry.name);
    if (/\bz\.(locales|config)\b|zod\/.*locales/.test(await readFile(file, 'utf8'))) {
      console.error(`bundle.mjs: ${relative(repo, file)} uses zod's locales or z.config, which the bundle leaves out (see zodLocalesPlugin)`);
      process.exit(1);
    }
  }
}
await checkNoZodLocales(join(repo, 'src'));

// CommonJS code in the ESM bundles (pino, tweetnacl…, and the stand-ins) uses require, __filename and __dirname.
const banner = [
  "import { createRequire as __hpeCreateRequire } from 'node:module';",
  "import { fileURLToPath as __hpeFileURLToPath } from 'node:url';",
  "import { dirname as __hpeDirname } from 'node:path';",
  'const require = __hpeCreateRequire(import.meta.url);',
  'const __filename = __hpeFileURLToPath(import.meta.url);',
  'const __dirname = __hpeDirname(__filename);',
].join('\n');

for (const d of ['bin', 'vendor', 'proto']) await rm(join(dist, d), { recursive: true, force: true });

const cli = await build({
  ...common,
  entryPoints: Object.fromEntries(cliNames.map((name) => [name, `src/cli/${name}.ts`])),
  outdir: join(dist, 'bin'),
  outExtension: { '.js': '.mjs' },
  format: 'esm',
  banner: { js: banner },
  plugins: [lazyPackagesPlugin, zodLocalesPlugin],
});
const vendor = await build({
  ...common,
  entryPoints: Object.fromEntries(lazyPackages.map((name) => [name, requireFromRepo.resolve(name)])),
  outdir: join(dist, 'vendor'),
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
});
if (cli.errors.length > 0 || vendor.errors.length > 0) process.exit(1);

// A lazy package that slipped into a CLI bundle (e.g. imported by another package) would be parsed at every start.
for (const [file, { inputs }] of Object.entries(cli.metafile.outputs)) {
  const slipped = lazyPackages.filter((name) => Object.keys(inputs).some((input) => input.startsWith(`node_modules/${name}/`)));
  if (slipped.length > 0) {
    console.error(`bundle.mjs: ${file} contains ${slipped.join(', ')}, which must stay in dist/vendor: see the lazy-packages plugin`);
    process.exit(1);
  }
}

await mkdir(join(dist, 'proto'), { recursive: true });
await cp(join(dirname(requireFromRepo.resolve('etcd3/package.json')), 'proto'), join(dist, 'proto'), { recursive: true });

for (const name of cliNames) await chmod(join(dist, 'bin', `${name}.mjs`), 0o755);
for (const file of [...cliNames.map((n) => join(dist, 'bin', `${n}.mjs`)), ...lazyPackages.map((n) => join(dist, 'vendor', `${n}.cjs`))]) {
  console.log(`bundled ${relative(repo, file)} (${Math.round((await stat(file)).size / 1024)} KB)`);
}
