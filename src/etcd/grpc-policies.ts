/**
 * The etcd3 (gRPC) client with our fault handling in place of etcd3's: a TCP dial check bounded by
 * `dialTimeoutMs` before a call goes to a host not known to be connected, silent hosts skipped for a while, the
 * next host at once on UNAVAILABLE, a deadline on every unary call and no retry after it (README.md says why).
 * The policies have cockatiel's IPolicy shape, implemented here: cockatiel is not our dependency.
 */
import net from 'node:net';
import type { Etcd3, IOptions } from 'etcd3';
import type { Clock } from '../clock.js';
import { SILENT_HOST_SKIP_MS } from './endpoints.js';
import { loadEtcd3, type Etcd3Module } from './etcd3.js';
import { HostFailure, dialFailure } from './errors.js';
import type { EtcdTlsMaterial } from './tls.js';

type FaultHandling = NonNullable<IOptions['faultHandling']>;
type Policy = NonNullable<FaultHandling['global']>;
type PolicyContext = Parameters<Parameters<Policy['execute']>[0]>[0];

/** One configured host as the gRPC path sees it. */
interface GrpcHost {
  label: string;
  host: string;
  port: number;
  connected: boolean;
  /** The last failed dial check, and when it failed. */
  failure?: { error: HostFailure; at: number } | undefined;
}

export interface GrpcSettings {
  tlsOn: boolean;
  dialTimeoutMs: number;
  requestTimeoutMs: number;
  hosts: GrpcHost[];
  clock: Clock;
  /** host_etcd_user and its password: etcd3 authenticates once and sends the token with every call. */
  auth?: { username: string; password: string };
}

const noEvent = () => ({ dispose() {} });

function makePolicy(execute: <T>(fn: (ctx: PolicyContext) => PromiseLike<T> | T, signal: AbortSignal) => Promise<T>): Policy {
  const policy = {
    onSuccess: noEvent,
    onFailure: noEvent,
    execute<T>(fn: (ctx: PolicyContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
      return execute(fn, signal ?? new AbortController().signal);
    },
  };
  return policy as unknown as Policy;
}

function tcpDial(state: GrpcHost, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: state.host, port: state.port });
    const fail = (failure: HostFailure) => {
      socket.destroy();
      reject(failure);
    };
    socket.setTimeout(timeoutMs, () => fail(new HostFailure(state.label, 'timeout', `TCP connect gave no answer within ${timeoutMs} ms`, true, true)));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (e: NodeJS.ErrnoException) => fail(dialFailure(e, state)));
  });
}

/** A transport failure after which the host must be dialled again before the next call. */
function isTransportFailure(e: unknown, { GRPCUnavailableError, GRPCDeadlineExceededError }: Etcd3Module): boolean {
  return (e instanceof GRPCUnavailableError && !/etcdserver:/.test(e.message)) || e instanceof GRPCDeadlineExceededError;
}

/** The etcd3 client for these hosts (loads etcd3). */
export function createEtcd3(material: EtcdTlsMaterial | undefined, settings: GrpcSettings): Etcd3 {
  const mod = loadEtcd3();
  const { GRPCUnavailableError } = mod;
  const { dialTimeoutMs, requestTimeoutMs, hosts, clock } = settings;
  const scheme = settings.tlsOn ? 'https' : 'http';
  const byUrl = new Map(hosts.map((h) => [`${scheme}://${h.label}`, h]));

  const hostPolicy = (url: string): Policy => {
    const state = byUrl.get(url);
    return makePolicy(async (fn, signal) => {
      if (state && !state.connected) {
        const last = state.failure;
        if (last?.error.reason === 'timeout' && clock.now() - last.at < SILENT_HOST_SKIP_MS) throw last.error;
        try {
          await tcpDial(state, dialTimeoutMs);
          state.failure = undefined;
        } catch (e) {
          if (e instanceof HostFailure) state.failure = { error: e, at: clock.now() };
          throw e;
        }
      }
      try {
        const result = await fn({ signal });
        if (state) state.connected = true;
        return result;
      } catch (e) {
        if (state && isTransportFailure(e, mod)) state.connected = false;
        throw e;
      }
    });
  };

  // Each retry continues etcd3's shuffled walk over the hosts, so every attempt goes to another host.
  const maxAttempts = hosts.length;
  const global = makePolicy(async (fn, signal) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn({ signal });
      } catch (e) {
        const retry = attempt < maxAttempts && e instanceof GRPCUnavailableError && !signal.aborted;
        if (!retry) throw e;
      }
    }
  });

  const options: IOptions = {
    hosts: [...byUrl.keys()],
    faultHandling: { host: hostPolicy, global },
    // A gRPC deadline is an instant on the system clock, whatever clock measures our own waits.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + requestTimeoutMs }),
  };
  if (settings.auth) options.auth = { ...settings.auth };
  if (material) {
    // etcd3 passes these to grpc.credentials.createSsl(root, key, chain); a missing root means Node's CAs.
    options.credentials = {
      rootCertificate: material.ca as Buffer,
      ...(material.key ? { privateKey: material.key } : {}),
      ...(material.cert ? { certChain: material.cert } : {}),
    };
  }
  return new mod.Etcd3(options);
}
