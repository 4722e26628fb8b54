export { runPrerequisiteChecks, type CheckOptions, type PrerequisiteOutcome } from './checks.js';
export { buildReport, formatReport, type CheckResult, type CheckStatus, type PrerequisiteReport } from './report.js';
