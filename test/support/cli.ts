import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Repository root (compiled tests run from dist/test/support). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const cliPath = {
  encryptor: join(repoRoot, 'dist', 'src', 'cli', 'hpe3parencryptor.js'),
  plugin: join(repoRoot, 'dist', 'src', 'cli', 'hpedockerplugin.js'),
} as const;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Everything the built CLIs printed in this test file, for the no-leak assertion. */
export class Transcript {
  readonly runs: { args: string[]; result: CliResult }[] = [];

  text(): string {
    return this.runs.map((r) => `${r.result.stdout}\n${r.result.stderr}`).join('\n');
  }

  /** Fails naming the secret's label (never the secret) when any output contains it. */
  leaked(secrets: Record<string, string>): string[] {
    const all = this.text();
    return Object.entries(secrets)
      .filter(([, value]) => value.length > 0 && all.includes(value))
      .map(([label]) => label);
  }
}

/** Runs a built CLI the way an admin would: a separate process, arguments, stdin, environment. */
export function runCli(
  which: keyof typeof cliPath,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string; transcript?: Transcript; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cliPath[which], ...args],
      { env: { PATH: process.env.PATH, ...options.env }, timeout: options.timeoutMs ?? 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        const result = { code, stdout, stderr };
        options.transcript?.runs.push({ args, result });
        resolve(result);
      },
    );
    child.stdin?.end(options.stdin ?? '');
  });
}
