/** Typed, located result of reading hpe.conf. Produced by `loadConfig`, consumed by secrets, preflight, server. */

/** Absolute character offsets in the file text: `text.slice(start, end)` is exactly the raw value. */
export interface Span {
  start: number;
  end: number;
}

/**
 * The secret options of a backend: the four passwords (upstream docs/secret-management.md) and the passphrase of
 * the SSH private key (`san_private_key_passphrase`, this plugin's addition: upstream had no way to use an encrypted key).
 */
export const SecretOptions = [
  'hpe3par_password',
  'san_password',
  'replication_device.hpe3par_password',
  'replication_device.san_password',
  'san_private_key_passphrase',
] as const;
export type SecretOption = (typeof SecretOptions)[number];

/** A password as written in hpe.conf, before any decryption or placeholder resolution. */
export interface SecretValue {
  option: SecretOption;
  /** The raw text as written (quotes of a quoted value removed). */
  raw: string;
  line: number;
  /**
   * Where `raw` sits in the file, for in-place edits. Undefined when the value is not written
   * in this section (a replication password inherited from the backend's own password).
   */
  span?: Span;
  /** For an inherited replication password: the option it was inherited from. */
  inheritedFrom?: 'hpe3par_password' | 'san_password';
}

export const Drivers = {
  iscsi: 'hpedockerplugin.hpe.hpe_3par_iscsi.HPE3PARISCSIDriver',
  fc: 'hpedockerplugin.hpe.hpe_3par_fc.HPE3PARFCDriver',
  file: 'hpedockerplugin.hpe.hpe_3par_file.HPE3PARFileDriver',
} as const;
export type DriverKind = keyof typeof Drivers;

export const ReplicationModes = ['synchronous', 'asynchronous', 'streaming'] as const;
export type ReplicationMode = (typeof ReplicationModes)[number];

export interface IscsiTarget {
  ip: string;
  port: number;
}

export interface ReplicationDevice {
  line: number;
  backendId: string;
  mode: ReplicationMode;
  /** `cpg_map` pairs `src:tgt`, split on spaces. */
  cpgMap: { source: string; target: string }[];
  snapCpgMap: { source: string; target: string }[];
  quorumWitnessIp?: string;
  /** Seconds; only for asynchronous and streaming. */
  syncPeriod?: number;
  apiUrl: string;
  username: string;
  sanIp: string;
  sanLogin: string;
  password: SecretValue;
  sanPassword: SecretValue;
  /** iSCSI sources only; `;`-separated in the file. */
  iscsiIps: IscsiTarget[];
  /** Every pair as written, for diagnostics and status. Values of password keys are never logged. */
  pairs: Record<string, string>;
}

export interface BackendConfig {
  name: string;
  /** Line of the `[name]` header. */
  line: number;
  driver: DriverKind;
  apiUrl: string;
  username: string;
  password: SecretValue;
  sanIp: string;
  sanLogin: string;
  sanPassword: SecretValue;
  cpg: string[];
  snapCpg: string[];
  iscsiIps: IscsiTarget[];
  iscsiChapEnabled: boolean;
  /** CA bundle to verify the array's WSAPI certificate; without it upstream did not verify. */
  caCert?: string;
  /** `san_ssh_port`: the array's SSH port (snapshot schedules run over SSH to `sanIp` as `sanLogin`). 22 when unset. */
  sanSshPort: number;
  /** `san_private_key`: absolute path of a private key; when set, SSH logs in with it instead of `san_password`. */
  sanPrivateKey?: string;
  /** `san_private_key_passphrase`: the private key's passphrase, a secret like the passwords. */
  sanPrivateKeyPassphrase?: SecretValue;
  /** `ssh_conn_timeout` in seconds (connect and log in); 30 when unset, as upstream. */
  sshConnTimeoutSec: number;
  debug: boolean;
  replication?: ReplicationDevice;
  /** Every option as written (raw strings), keyed by option name. */
  options: Record<string, string>;
}

export interface EtcdEndpoint {
  host: string;
  port: number;
}

/** Where `host_etcd_password` is written; resolved by secrets' `resolveEtcdPassword`. */
export interface EtcdPasswordRef {
  raw: string;
  line: number;
}

export const LogLevels = ['DEBUG', 'INFO', 'WARNING', 'ERROR'] as const;
export type LogLevel = (typeof LogLevels)[number];

/** Options read from [DEFAULT] only. */
export interface HostConfig {
  etcd: {
    endpoints: EtcdEndpoint[];
    /** Client certificate and key for mutual TLS (both or neither). */
    clientCert?: string;
    clientKey?: string;
    /** CA that signed the etcd server certificate. */
    caCert?: string;
    /**
     * `host_etcd_prefix`: every key the plugin and the encryptor use lives under it (`/a` + `/volumes/x`), so
     * several plugin clusters can share one etcd. Starts with `/`, no trailing `/`; unset = upstream's paths.
     */
    prefix?: string;
    /** `host_etcd_user`: the etcd user to authenticate as by password (without it, the certificate CN is the user). */
    user?: string;
    /** `host_etcd_password` as written: a `$env{}` or `$file{}` placeholder, never the password itself. */
    password?: EtcdPasswordRef;
  };
  logging: LogLevel;
  mountPrefix?: string;
  /** `node_id`: this host's id in mount records, instead of the .node_id file (see host/node-id.ts). */
  nodeId?: string;
  /** SSH to the arrays (snapshot schedules). */
  ssh: {
    /** `ssh_hosts_key_file`; unset means `<state folder>/ssh_known_hosts` (see knownHostsFilePath), which only the caller knows. */
    knownHostsFile?: string;
    /** `strict_ssh_host_key_policy`: true refuses arrays not in the file; false (default) remembers them on first connect. */
    strictHostKeyPolicy: boolean;
  };
}

/** A non-blocking finding (unknown option, host option outside [DEFAULT]). */
export interface ConfigWarning {
  line: number;
  section: string;
  option?: string;
  message: string;
}

export interface HpeConfig {
  file: string;
  /** The file's text as read; in-place edits apply spans to this. */
  text: string;
  host: HostConfig;
  /** In file order. */
  backends: BackendConfig[];
  warnings: ConfigWarning[];
}
