/** npm etcd3 (gRPC), loaded on first need: loading it costs more than the whole read-only start path (README.md). */
import { createRequire } from 'node:module';

export type Etcd3Module = typeof import('etcd3');
let etcd3Module: Etcd3Module | undefined;

/** In the esbuild bundle `require` is defined and resolved to the bundled copy; under plain Node ESM node_modules is used. */
export function loadEtcd3(): Etcd3Module {
  etcd3Module ??= (typeof require === 'function' ? require('etcd3') : createRequire(import.meta.url)('etcd3')) as Etcd3Module;
  return etcd3Module;
}
