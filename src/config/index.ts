/** The config folder's public face: read hpe.conf into typed, located results. */
export * from './types.js';
export * from './defaults.js';
export {
  checkConfig,
  ConfigPathEnv,
  DefaultConfigPath,
  loadConfig,
  parseConfig,
  readConfigText,
  resolveConfigPath,
  type ConfigCheck,
} from './load.js';
export { parseIni, type IniDocument, type IniEntry, type IniSection, type ValuePiece } from './dialect.js';
export { NodeIdFix, NodeIdMaxLength, nodeIdProblem } from './node-id.js';
