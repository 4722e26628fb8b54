export * from './wsapi-client.js';
export * from './wsapi-errors.js';
export * from './export.js';
