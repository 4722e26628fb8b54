export { createVolumeDriverApp } from './app.js';
export type { VolumeDriver, VolumeSummary } from './driver.js';
export { defaultSocketPath, listenOnSocket } from './socket.js';
