export { runPrerequisiteChecks, type CheckOptions, type PrerequisiteOutcome } from './checks.js';
export { lastReportFile, passGate, readLastReport, type GateOptions, type LastReport } from './gate.js';
export { buildReport, formatReport, type CheckResult, type CheckStatus, type PrerequisiteReport } from './report.js';
