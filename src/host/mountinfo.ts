/** The kernel's mount table (`/proc/self/mountinfo`), parsed. Pure: no I/O. */

export interface MountEntry {
  id: number;
  parentId: number;
  /** `major:minor` of the mounted device, e.g. `7:0`. */
  majorMinor: string;
  /** The directory of the filesystem that is mounted (`/` unless a bind mount of a subdirectory). */
  root: string;
  mountPoint: string;
  options: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

/**
 * One line per mount: `36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue`;
 * optional fields end at `-`. Paths escape space, tab, newline and backslash as `\040` `\011` `\012` `\134`.
 */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (fields.length < 10 || dash < 0 || fields.length < dash + 3) continue;
    entries.push({
      id: Number(fields[0]),
      parentId: Number(fields[1]),
      majorMinor: fields[2]!,
      root: unescapeMountField(fields[3]!),
      mountPoint: unescapeMountField(fields[4]!),
      options: fields[5]!.split(','),
      fsType: unescapeMountField(fields[dash + 1]!),
      source: unescapeMountField(fields[dash + 2]!),
      superOptions: (fields[dash + 3] ?? '').split(',').filter((o) => o !== ''),
    });
  }
  return entries;
}

export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mount visible at `dir` (the last one stacked there), if any. */
export function mountAt(entries: readonly MountEntry[], dir: string): MountEntry | undefined {
  return entries.filter((e) => e.mountPoint === dir).at(-1);
}
