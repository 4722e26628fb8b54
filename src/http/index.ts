/** HTTP exchanges and the classification of transport failures, shared by the WSAPI client and the etcd transports. */
export { sendOnce, HttpFailure, type HttpAnswer, type HttpFailureKind } from './exchange.js';
export { classifyTransportFailure, opensslReason, type TransportFailureKind } from './failures.js';
