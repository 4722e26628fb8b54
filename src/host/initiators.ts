/** This host's initiator names, which the array side registers on the array's host entry. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'ini';
import { readdirOrEmpty } from './scsi.js';
import type { HostEnv } from './types.js';

export interface Initiators {
  /** From <etcRoot>/iscsi/initiatorname.iscsi; empty when open-iscsi is not set up. */
  iscsiNames: string[];
  /** FC port WWNs, 16 lower-case hex digits, from <sysRoot>/class/fc_host/host*\/port_name. */
  fcWwns: string[];
}

export async function readInitiators(env: HostEnv): Promise<Initiators> {
  return { iscsiNames: await readIscsiNames(env), fcWwns: await readFcWwns(env) };
}

async function readIscsiNames(env: HostEnv): Promise<string[]> {
  const text = await readOptional(join(env.etcRoot, 'iscsi', 'initiatorname.iscsi'));
  if (text === undefined) return [];
  // open-iscsi's file is `InitiatorName=iqn...` with `#` comments: one key=value line, which ini reads as is.
  const name = parse(text)['InitiatorName'];
  return typeof name === 'string' && name.trim() !== '' ? [name.trim()] : [];
}

async function readFcWwns(env: HostEnv): Promise<string[]> {
  const dir = join(env.sysRoot, 'class', 'fc_host');
  const wwns: string[] = [];
  for (const host of (await readdirOrEmpty(dir)).filter((h) => /^host\d+$/.test(h)).sort()) {
    const raw = (await readOptional(join(dir, host, 'port_name')))?.trim().toLowerCase().replace(/^0x/, '');
    if (raw !== undefined && /^[0-9a-f]{1,16}$/.test(raw)) wwns.push(raw.padStart(16, '0'));
  }
  return wwns;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
