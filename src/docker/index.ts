export { findEnabledHpePlugins, isOurPlugin, type PluginProbe, type PluginQuery } from './plugins.js';
