/**
 * This host's node id: the key of its entries in volume records (`node_mount_info`) and of its mount intents,
 * so it must survive restarts and differ between hosts. First found wins:
 *   1. the HPE_NODE_ID setting (`docker plugin set`), which belongs to this host's plugin alone;
 *   2. `node_id` in [DEFAULT] of hpe.conf;
 *   3. upstream's file, `.node_id` next to hpe.conf (/etc/hpedockerplugin/.node_id), so a host that ran HPE's
 *      plugin keeps its id and its mount records;
 *   4. `.node_id` in the state folder, where this plugin creates one when none of the above exists: the
 *      managed plugin mounts the config folder read-only.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NodeIdFix, nodeIdProblem } from '../config/index.js';
import { writeFileAtomic } from '../files.js';
import { NodeIdError } from './errors.js';

const NodeIdFileName = '.node_id';
export const NodeIdEnv = 'HPE_NODE_ID';

export const NodeIdSources = {
  setting: 'setting',
  config: 'config',
  upstreamFile: 'upstream file',
  stateFile: 'state file',
  created: 'created',
} as const;
export type NodeIdSource = (typeof NodeIdSources)[keyof typeof NodeIdSources];

export interface NodeIdPlaces {
  /** The hpe.conf in use: upstream's .node_id sits in its folder. */
  configFile: string;
  /** `[DEFAULT].node_id` of that file, already validated by the config reader. */
  configured?: string;
  /** The plugin's state folder, where a new id is created. */
  stateDir: string;
  env: NodeJS.ProcessEnv;
}

export interface NodeId {
  id: string;
  source: NodeIdSource;
  /** The setting, option or file it came from (or was written to), for messages. */
  from: string;
}

export type NodeIdLookup = ({ found: true } & NodeId) | { found: false; createAt: string };

function errnoCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : 'unknown error';
}

const damagedFix = (file: string) =>
  `write this host's id alone in ${file} (upstream wrote a uuid there; the volume records in etcd name it under node_mount_info), ` +
  `or set ${NodeIdEnv}; only while no volume is mounted on this host, deleting the file is safe: a new id is created at the next start`;

/** The id a file holds, undefined when there is no such file; surrounding whitespace (an editor's newline) is not part of it. */
async function readNodeIdFile(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new NodeIdError(file, `${file} holds this host's node id but cannot be read (${code})`, `make ${file} a regular file readable by root; ${damagedFix(file)}`, {
      cause: err,
    });
  }
  const id = text.trim();
  const problem = nodeIdProblem(id);
  if (problem !== undefined) throw new NodeIdError(file, `${file} is damaged: the id in it ${problem}`, damagedFix(file));
  return id;
}

function fromSetting(env: NodeJS.ProcessEnv): NodeId | undefined {
  const value = env[NodeIdEnv];
  if (value === undefined || value === '') return undefined;
  const problem = nodeIdProblem(value);
  if (problem !== undefined) {
    throw new NodeIdError(NodeIdEnv, `${NodeIdEnv} (plugin setting) ${problem}`, `docker plugin set hpe ${NodeIdEnv}=<id>: ${NodeIdFix}; or set it empty to use the .node_id file`);
  }
  return { id: value, source: NodeIdSources.setting, from: NodeIdEnv };
}

/** Where this host's id comes from, without writing anything (`hpedockerplugin check`); throws NodeIdError. */
export async function findNodeId(places: NodeIdPlaces): Promise<NodeIdLookup> {
  const setting = fromSetting(places.env);
  if (setting !== undefined) return { found: true, ...setting };
  if (places.configured !== undefined) {
    return { found: true, id: places.configured, source: NodeIdSources.config, from: `${places.configFile} [DEFAULT].node_id` };
  }
  const upstream = join(dirname(places.configFile), NodeIdFileName);
  const upstreamId = await readNodeIdFile(upstream);
  if (upstreamId !== undefined) return { found: true, id: upstreamId, source: NodeIdSources.upstreamFile, from: upstream };
  const own = join(places.stateDir, NodeIdFileName);
  const ownId = await readNodeIdFile(own);
  if (ownId !== undefined) return { found: true, id: ownId, source: NodeIdSources.stateFile, from: own };
  return { found: false, createAt: own };
}

/** This host's id, creating `<state>/.node_id` with a new uuid when there is none; throws NodeIdError or FileWriteError. */
export async function ensureNodeId(places: NodeIdPlaces): Promise<NodeId> {
  const lookup = await findNodeId(places);
  if (lookup.found) return { id: lookup.id, source: lookup.source, from: lookup.from };
  const id = randomUUID();
  await mkdir(dirname(lookup.createAt), { recursive: true, mode: 0o700 });
  // Upstream's format exactly (a uuid4, no newline): copied to /etc/hpedockerplugin, HPE's plugin reads the same id.
  await writeFileAtomic(lookup.createAt, id, { mode: 0o644 });
  return { id, source: NodeIdSources.created, from: lookup.createAt };
}

/** `<id> (from <where>)`, as `check` and the start log show it. */
export function describeNodeId(nodeId: NodeId): string {
  return `${nodeId.id} (${nodeId.source === NodeIdSources.created ? 'created' : 'from'} ${nodeId.from})`;
}
