// Child process of secrets.bench (the comparison line): the start path for secrets from dist/src, unbundled, timed from
// process start to every secret decrypted.
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../src/config/index.js';
import { createEtcdClient } from '../../src/etcd/index.js';
import { loadKeyLookups, revealConfigSecrets } from '../../src/secrets/index.js';

const file = process.argv[2]!;
const config = await loadConfig(file);
const client = await createEtcdClient(config.host.etcd);
const lookups = await loadKeyLookups(client);
const { secrets, failures } = await revealConfigSecrets(config, lookups);
const elapsed = performance.now();
client.close();
const count = [...secrets.values()].reduce((n, s) => n + Object.keys(s).length, 0);
process.stdout.write(JSON.stringify({ elapsedMs: elapsed, backends: secrets.size, secrets: count, failures: failures.length }) + '\n');
