import type { HpeConfig } from '../config/index.js';
import { createEtcdClient, type Etcd3Client } from '../etcd/index.js';
import { resolveEtcdPassword } from '../secrets/index.js';

/** One etcd client for the length of one command (as hpe.conf's etcd identity), closed however the command ends. */
export async function withEtcd<T>(env: NodeJS.ProcessEnv, config: HpeConfig, work: (client: Etcd3Client) => Promise<T>): Promise<T> {
  const client = await createEtcdClient(config.host.etcd, { password: await resolveEtcdPassword(config, env) });
  try {
    return await work(client);
  } finally {
    client.close();
  }
}
