export {
  containersUsingPlugin,
  findEnabledHpePlugins,
  isOurPlugin,
  type ContainerSummary,
  type DockerApi,
  type EnabledPlugin,
  type PluginProbe,
  type PluginQuery,
  type PluginSummary,
  type PluginUser,
} from './plugins.js';
export { importBusyboxImage, type BusyboxImport } from './busybox-image.js';
