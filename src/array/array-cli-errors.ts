/**
 * Errors of the array's SSH CLI. Every one names the array and the CLI command (`createsched`, or `connect` before
 * any command ran) and carries the fix; none holds a password, passphrase or key.
 */
import { HpeError } from '../errors.js';

export const ArrayCliFailures = {
  /** TCP connect refused, name unknown, host unreachable, connection dropped. */
  unreachable: 'unreachable',
  /** No answer in time: connecting, authenticating, or the command itself. */
  timeout: 'timeout',
  /** The array refused the user, password or key. */
  auth: 'auth',
  /** The private key file is missing, unreadable, or its passphrase is wrong. */
  privateKey: 'private-key',
  /** The array's host key differs from the remembered one (a changed key is always refused). */
  hostKeyChanged: 'host-key-changed',
  /** Strict policy and the array is not in the known-hosts file. */
  hostKeyUnknown: 'host-key-unknown',
  /** The known-hosts file cannot be read or written. */
  knownHostsFile: 'known-hosts-file',
  /** The array ran the command and printed an error line. */
  command: 'command',
  /** An argument holds a character the CLI's quoting cannot carry. */
  argument: 'argument',
} as const;
export type ArrayCliFailure = (typeof ArrayCliFailures)[keyof typeof ArrayCliFailures];

export interface ArrayCliErrorInit {
  array: string;
  command: string;
  failure: ArrayCliFailure;
  message: string;
  fix: string;
  /** For `command` failures: the array's error line as printed. */
  arrayText?: string;
  cause?: unknown;
}

export class ArrayCliError extends HpeError {
  readonly array: string;
  /** The CLI command, or `connect` when the connection itself failed. */
  readonly command: string;
  readonly failure: ArrayCliFailure;
  readonly arrayText: string | undefined;

  constructor(init: ArrayCliErrorInit) {
    super(`array ${init.array}: ${init.command}: ${init.message}`, init.fix, {
      retryable: init.failure === 'unreachable' || init.failure === 'timeout',
      cause: init.cause,
    });
    this.array = init.array;
    this.command = init.command;
    this.failure = init.failure;
    this.arrayText = init.arrayText;
  }
}
