import type { HpeConfig } from '../config/index.js';
import { createEtcdClient, type EtcdClient } from '../etcd/index.js';

/** One etcd client for the length of one encryptor command, closed however the command ends. */
export async function withEtcd<T>(config: HpeConfig, work: (client: EtcdClient) => Promise<T>): Promise<T> {
  const client = await createEtcdClient(config.host.etcd);
  try {
    return await work(client);
  } finally {
    client.close();
  }
}
