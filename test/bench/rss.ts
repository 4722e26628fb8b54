/** A process's memory as the kernel counts it (/proc/PID/status), in MB (MiB). */
import { readFile } from 'node:fs/promises';

export interface Rss {
  /** resident set now (VmRSS) */
  rss: number;
  /** the highest resident set so far (VmHWM) */
  peak: number;
  /** of `rss`, the process's own pages (RssAnon: heap, stacks, JIT code) */
  anon: number;
  /** of `rss`, pages of mapped files (RssFile: mostly the node binary's code, shared by every node process) */
  file: number;
}

export async function rssOf(pid: number): Promise<Rss> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
}

export const formatRss = (r: Rss) => `${r.rss.toFixed(1)} MB (own ${r.anon.toFixed(1)} + mapped files ${r.file.toFixed(1)}; peak ${r.peak.toFixed(1)} MB)`;
