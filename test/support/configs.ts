import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The passwords of the demo-shaped test config; tests assert none of them is ever printed. */
export const testPasswords = {
  defaultArray: 'Def-Array-Pw-41',
  defaultSan: 'Def-San-Pw-42',
  secondArray: 'Second-Array-Pw-43',
  secondSan: 'Second-San-Pw-44',
  remoteArray: 'Remote-Array-Pw-45',
  remoteSan: 'Remote-San-Pw-46',
} as const;

/** WSAPI URLs of the three arrays of twoBackendConfig. The default is a closed loopback port: tests never send traffic off this machine. */
export interface ArrayUrls {
  default: string;
  second: string;
  remote: string;
}
const nowhere = 'http://127.0.0.1:9/api/v1';
export const noArrays: ArrayUrls = { default: nowhere, second: nowhere, remote: nowhere };

/** Two backends, the second replicating; plain passwords, comments, odd spacing. */
export function twoBackendConfig(
  etcdHost: string,
  etcdPort: number,
  p: Record<keyof typeof testPasswords, string> = testPasswords,
  arrays: ArrayUrls = noArrays,
): string {
  return `# hpe.conf used by the tests
[DEFAULT]
host_etcd_ip_address = ${etcdHost}
host_etcd_port_number = ${etcdPort}
hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_iscsi.HPE3PARISCSIDriver
hpe3par_api_url = ${arrays.default}
hpe3par_username = 3paradm
hpe3par_password = ${p.defaultArray}
san_ip = 127.0.0.1
san_login = 3paradm
san_password=${p.defaultSan}
hpe3par_cpg = FC_r1
hpe3par_iscsi_ips = 127.0.0.1

; second array
[3par2]
hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver
hpe3par_api_url = ${arrays.second}
hpe3par_username = 3paradm
hpe3par_password:   ${p.secondArray}
san_ip = 127.0.0.1
san_login = 3paradm
san_password = ${p.secondSan}
hpe3par_cpg = FC_r5
replication_device = backend_id:remote3par,
    replication_mode:asynchronous, sync_period:900,
    cpg_map:FC_r5:FC_r1,
    hpe3par_api_url:${arrays.remote},
    hpe3par_username:3paradm, hpe3par_password:${p.remoteArray},
    san_ip:127.0.0.1, san_login:3paradm, san_password:${p.remoteSan}
`;
}

/**
 * One FC backend on one array (the simulator's default user); `iscsi` makes it an iSCSI backend on 127.0.0.1;
 * `password` is written as both passwords (a `$secret{NAME}` too); `extra` lines end the section.
 */
export function singleArrayConfig(etcdPort: number, apiUrl: string, o: { iscsi?: boolean; password?: string; extra?: string } = {}): string {
  const password = o.password ?? '3pardata';
  return `[DEFAULT]
host_etcd_ip_address = 127.0.0.1
host_etcd_port_number = ${etcdPort}
hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_${o.iscsi ? 'iscsi.HPE3PARISCSIDriver' : 'fc.HPE3PARFCDriver'}
hpe3par_api_url = ${apiUrl}
hpe3par_username = 3paradm
hpe3par_password = ${password}
san_ip = 127.0.0.1
san_password = ${password}
hpe3par_cpg = FC_r1
${o.iscsi ? 'hpe3par_iscsi_ips = 127.0.0.1\n' : ''}${o.extra ?? ''}`;
}

export interface TempDir {
  path: string;
  file(name: string, text: string, mode?: number): Promise<string>;
  remove(): Promise<void>;
}

export async function tempDir(prefix = 'hpe-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    async file(name, text, mode = 0o600) {
      const f = join(path, name);
      await writeFile(f, text, { mode });
      await chmod(f, mode);
      return f;
    },
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

/** An FC backend's options for `[DEFAULT]` (7 lines): what config unit tests put around the option they test. */
export const fcBackendLines: readonly string[] = [
  'hpedockerplugin_driver = hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver',
  'hpe3par_api_url = https://10.50.4.21:8080/api/v1',
  'hpe3par_username = 3paradm',
  'hpe3par_password = pw-array',
  'san_ip = 10.50.4.21',
  'san_password = pw-ssh',
  'hpe3par_cpg = FC_r1',
];
