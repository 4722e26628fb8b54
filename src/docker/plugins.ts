import Docker from 'dockerode';

/** What the Docker API says about plugins on this host. */
export type PluginProbe =
  | { reachable: true; enabled: string[] }
  | { reachable: false; detail: string };

export interface PluginQuery {
  /** Only this plugin name counts (`--plugin-name`); otherwise any plugin that serves `hpe.sock` as a volume driver. */
  pluginName?: string;
  /** `unix:///path` or `tcp://host:port`, as in DOCKER_HOST; default: DOCKER_HOST of this process, else the local socket. */
  dockerHost?: string;
  timeoutMs?: number;
}

interface PluginSummary {
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

/**
 * Asks the Docker API (honouring DOCKER_HOST, as the docker CLI does) which of our plugins are enabled.
 * Upstream grepped `docker ps` for `hpestorage`, which never saw a managed plugin.
 */
export async function findEnabledHpePlugins(query: PluginQuery = {}): Promise<PluginProbe> {
  let docker: Docker;
  try {
    docker = new Docker({ timeout: query.timeoutMs ?? 3000, ...connectionOf(query.dockerHost) });
  } catch (err) {
    return { reachable: false, detail: (err as Error).message };
  }
  try {
    const plugins = (await docker.listPlugins()) as unknown as PluginSummary[];
    const enabled = plugins.filter((p) => p.Enabled && isOurPlugin(p, query.pluginName)).map((p) => withoutLatest(p.Name));
    return { reachable: true, enabled };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { address?: string };
    const where = e.address ?? query.dockerHost ?? process.env.DOCKER_HOST ?? '/var/run/docker.sock';
    return { reachable: false, detail: `${where}: ${e.code ?? e.message}` };
  }
}
