export { createVolumeDriverApp } from './app.js';
export { DeferredDriver } from './deferred.js';
export type { VolumeDriver, VolumeSummary } from './driver.js';
export { defaultSocketPath, listenOnSocket } from './socket.js';
