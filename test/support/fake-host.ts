/**
 * A host for unit tests of src/host: `FakeCommands` replays recorded outputs of iscsiadm, multipathd, blkid,
 * losetup... (by exact command line or pattern) and records every call; `FakeHostTree` is a temp folder with the
 * parts of /sys, /dev, /etc and /proc the host side reads, built by the test.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCommandRunner, type ExecOutcome, type Execute, type HostEnv, type HostTimeouts } from '../../src/host/index.js';
import type { Clock } from '../../src/clock.js';

export interface Reply {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  timedOut?: boolean;
  notFound?: boolean;
  /** What the command does to the (fake) host, e.g. a login makes the LUN's device appear. */
  effect?: () => void;
}

interface Rule {
  match: string | RegExp;
  reply: Reply | ((argv: string[]) => Reply);
}

export class FakeCommands {
  /** Every command line run, as argv. */
  readonly calls: string[][] = [];
  readonly #rules: Rule[] = [];

  /** Replies to an exact command line (`'iscsiadm -m session'`) or a pattern; later rules win. */
  on(match: string | RegExp, reply: Reply | ((argv: string[]) => Reply)): this {
    this.#rules.unshift({ match, reply });
    return this;
  }

  /** The command lines run, joined with spaces. */
  get lines(): string[] {
    return this.calls.map((c) => c.join(' '));
  }

  readonly execute: Execute = async (file, args) => {
    const argv = [file, ...args];
    this.calls.push(argv);
    const line = argv.join(' ');
    const rule = this.#rules.find((r) => (typeof r.match === 'string' ? r.match === line : r.match.test(line)));
    if (rule === undefined) return outcome({ exitCode: 127, stderr: `fake host: no recorded output for \`${line}\`` });
    const reply = typeof rule.reply === 'function' ? rule.reply(argv) : rule.reply;
    reply.effect?.();
    return outcome(reply);
  };
}

function outcome(r: Reply): ExecOutcome {
  const failedToRun = r.timedOut === true || r.notFound === true;
  return {
    exitCode: failedToRun ? null : (r.exitCode ?? 0),
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    timedOut: r.timedOut ?? false,
    notFound: r.notFound ?? false,
    aborted: false,
  };
}

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'host');

/** A recorded command output from test/fixtures/host. */
export function recorded(name: string): string {
  return readFileSync(join(fixtures, name), 'utf8');
}

export class FakeHostTree {
  readonly root = mkdtempSync(join(tmpdir(), 'hpe-host-'));
  readonly sys = join(this.root, 'sys');
  readonly dev = join(this.root, 'dev');
  readonly etc = join(this.root, 'etc');
  readonly proc = join(this.root, 'proc');

  constructor() {
    for (const d of [this.sys, this.dev, this.etc, join(this.proc, 'self')]) mkdirSync(d, { recursive: true });
  }

  env(commands: FakeCommands, clock: Clock, timeouts: Partial<HostTimeouts> = {}): HostEnv {
    return {
      runner: createCommandRunner({ execute: commands.execute }),
      sysRoot: this.sys,
      devRoot: this.dev,
      etcRoot: this.etc,
      procRoot: this.proc,
      clock,
      timeouts,
    };
  }

  write(rel: string, text: string): string {
    const file = join(this.root, rel);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  }

  read(rel: string): string {
    return readFileSync(join(this.root, rel), 'utf8');
  }

  /** A SCSI disk as the kernel and udev show it: sysfs wwid and delete, the node, by-id (and iSCSI by-path) links. */
  addScsiDisk(name: string, wwn: string, iscsi?: { portal: string; iqn: string; lun: number }): void {
    this.write(`sys/block/${name}/device/wwid`, `naa.${wwn}\n`);
    this.write(`sys/block/${name}/device/delete`, '');
    this.write(`dev/${name}`, '');
    this.link(`dev/disk/by-id/wwn-0x${wwn}`, `../../${name}`);
    this.link(`dev/disk/by-id/scsi-3${wwn}`, `../../${name}`);
    if (iscsi !== undefined) this.link(`dev/disk/by-path/ip-${iscsi.portal}-iscsi-${iscsi.iqn}-lun-${iscsi.lun}`, `../../${name}`);
  }

  /** What a path delete does in the kernel: the sysfs entry and node go; udev's links may lag behind. */
  removeScsiDisk(name: string): void {
    rmSync(join(this.sys, 'block', name), { recursive: true, force: true });
    rmSync(join(this.dev, name), { force: true });
  }

  addMultipath(dm: string, name: string, wwn: string, slaves: string[]): void {
    this.write(`sys/block/${dm}/dm/name`, `${name}\n`);
    for (const s of slaves) mkdirSync(join(this.sys, 'block', dm, 'slaves', s), { recursive: true });
    this.write(`dev/${dm}`, '');
    this.link(`dev/disk/by-id/dm-uuid-mpath-3${wwn}`, `../../${dm}`);
  }

  removeMultipath(dm: string, wwn: string): void {
    rmSync(join(this.sys, 'block', dm), { recursive: true, force: true });
    rmSync(join(this.dev, dm), { force: true });
    rmSync(join(this.dev, 'disk', 'by-id', `dm-uuid-mpath-3${wwn}`), { force: true });
  }

  link(rel: string, target: string): void {
    const file = join(this.root, rel);
    mkdirSync(dirname(file), { recursive: true });
    rmSync(file, { force: true });
    symlinkSync(target, file);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
