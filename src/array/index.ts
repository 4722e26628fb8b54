/** The WSAPI client (one session per array, typed endpoints), its wire types and its errors. */
export {
  CopyTypes,
  FeatureStates,
  FlashCachePolicies,
  HostPersonas,
  PortLinkStates,
  PortModes,
  PortProtocols,
  PortTypes,
  ProvisioningTypes,
  RcgActions,
  RcgModes,
  RcgRecoveryActions,
  RcgRoles,
  RcgStates,
  SessionKeyHeader,
  TaskStatuses,
  VlunTypes,
  WsapiFeatureBuilds,
  wsapiFeatures,
  type CreateRcgParams,
  type CreateVolumeParams,
  type Host,
  type ModifyRcgParams,
  type PhysicalCopyParams,
  type Port,
  type PortPos,
  type QosRule,
  type RcgPolicies,
  type RemoteCopyGroup,
  type SystemInfo,
  type Volume,
  type VolumePolicies,
  type WsapiFeatures,
} from './wsapi-types.js';
export {
  type RetryPolicy,
  type WsapiClientOptions,
  type WsapiOutcome,
} from './wsapi-session.js';
export {
  parseVlunLocation,
  readyFcTargetPorts,
  readyIscsiTargetPorts,
  WsapiClient,
} from './wsapi-client.js';
export {
  hasCode,
  hpe3parClientText,
  isNotFound,
  WsapiCodes,
  WsapiConnectionError,
  WsapiError,
  wsapiCodeName,
} from './wsapi-errors.js';
export * from './export.js';
export type { ArrayCli, ScheduleSpec, SnapSchedule } from './array-cli.js';
export { ArrayCliError, ArrayCliFailures, type ArrayCliFailure } from './array-cli-errors.js';
export {
  createArrayCli,
  CsvTableCommand,
  NoScheduleText,
  ScheduledSnapshotSuffix,
  type ArrayCliOptions,
} from './array-cli-ssh.js';
export { defaultSshTimeouts, type SshAuth, type SshTimeouts } from './ssh-session.js';
