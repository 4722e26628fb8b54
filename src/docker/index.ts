export { findEnabledHpePlugins, isOurPlugin, type PluginProbe, type PluginQuery } from './plugins.js';
export { importBusyboxImage, type BusyboxImport } from './busybox-image.js';
