import Docker from 'dockerode';

/** A running container and the volumes of one plugin it has mounted. */
export interface PluginUser {
  container: string;
  volumes: string[];
}

export interface EnabledPlugin {
  name: string;
  /** Running containers with a volume of this plugin: while there are any, `docker plugin disable -f` pulls the volumes from under them. */
  users: PluginUser[];
}

/** What the Docker API says about plugins on this host. */
export type PluginProbe =
  | { reachable: true; enabled: EnabledPlugin[] }
  | { reachable: false; detail: string };

/** The part of the Docker API this module needs (dockerode's shape), so tests can fake it. */
export interface DockerApi {
  listPlugins(): Promise<PluginSummary[]>;
  listContainers(): Promise<ContainerSummary[]>;
}

export interface ContainerSummary {
  Names?: string[];
  Id: string;
  Mounts?: { Type?: string; Name?: string; Driver?: string }[];
}

export interface PluginQuery {
  /** Only this plugin name counts (`--plugin-name`); otherwise any plugin that serves `hpe.sock` as a volume driver. */
  pluginName?: string;
  /** `unix:///path` or `tcp://host:port`, as in DOCKER_HOST; default: DOCKER_HOST of this process, else the local socket. */
  dockerHost?: string;
  timeoutMs?: number;
}

export interface PluginSummary {
  Name: string;
  Enabled: boolean;
  Config?: { Interface?: { Socket?: string; Types?: unknown[] } };
}

const ourSocket = 'hpe.sock';
const volumeDriverType = 'docker.volumedriver/1.0';

/** The engine serialises interface types as `prefix.capability/version` strings; older clients model them as objects. */
function typeName(t: unknown): string {
  if (typeof t === 'string') return t;
  if (t !== null && typeof t === 'object') {
    const { Prefix, Capability, Version } = t as Record<string, unknown>;
    return `${String(Prefix)}.${String(Capability)}/${String(Version)}`;
  }
  return '';
}

function withoutLatest(name: string): string {
  return name.endsWith(':latest') ? name.slice(0, -':latest'.length) : name;
}

export function isOurPlugin(p: PluginSummary, pluginName?: string): boolean {
  if (pluginName !== undefined) return withoutLatest(p.Name) === withoutLatest(pluginName);
  const iface = p.Config?.Interface;
  return iface?.Socket === ourSocket && (iface.Types ?? []).map(typeName).includes(volumeDriverType);
}

function connectionOf(dockerHost: string | undefined): Docker.DockerOptions {
  if (dockerHost === undefined || dockerHost === '') return {};
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' };
}

/** The running containers (as `docker ps` lists them) that have a volume of this plugin mounted. */
export function containersUsingPlugin(containers: ContainerSummary[], pluginName: string): PluginUser[] {
  const users: PluginUser[] = [];
  for (const c of containers) {
    const volumes = (c.Mounts ?? [])
      .filter((m) => m.Type === 'volume' && m.Driver !== undefined && withoutLatest(m.Driver) === withoutLatest(pluginName))
      .map((m) => m.Name ?? '?');
    if (volumes.length === 0) continue;
    const name = c.Names?.[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12);
    users.push({ container: name, volumes });
  }
  return users;
}

function dockerodeApi(query: PluginQuery): DockerApi {
  const docker = new Docker({ timeout: query.timeoutMs ?? 3000, ...connectionOf(query.dockerHost) });
  return {
    listPlugins: async () => (await docker.listPlugins()) as unknown as PluginSummary[],
    listContainers: async () => (await docker.listContainers()) as unknown as ContainerSummary[],
  };
}

/**
 * Asks the Docker API (honouring DOCKER_HOST, as the docker CLI does) which of our plugins are enabled,
 * and which running containers use their volumes. Upstream grepped `docker ps` for `hpestorage`, which
 * never saw a managed plugin.
 */
export async function findEnabledHpePlugins(query: PluginQuery = {}, connect: (q: PluginQuery) => DockerApi = dockerodeApi): Promise<PluginProbe> {
  let docker: DockerApi;
  try {
    docker = connect(query);
  } catch (err) {
    return { reachable: false, detail: (err as Error).message };
  }
  try {
    const plugins = (await docker.listPlugins()).filter((p) => p.Enabled && isOurPlugin(p, query.pluginName));
    if (plugins.length === 0) return { reachable: true, enabled: [] };
    const containers = await docker.listContainers();
    const enabled = plugins.map((p) => ({ name: withoutLatest(p.Name), users: containersUsingPlugin(containers, p.Name) }));
    return { reachable: true, enabled };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { address?: string };
    const where = e.address ?? query.dockerHost ?? process.env.DOCKER_HOST ?? '/var/run/docker.sock';
    return { reachable: false, detail: `${where}: ${e.code ?? e.message}` };
  }
}
