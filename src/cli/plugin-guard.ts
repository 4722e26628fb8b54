import type { EnabledPlugin } from '../docker/index.js';
import { PrerequisiteError } from '../errors.js';

const disableNote = (name: string) =>
  `(-f because a plain disable refuses while any volume of ${name} exists; it is safe while no running container uses one)`;

/**
 * Why -a/-d refuse while the plugin runs, with a fix that works: `docker plugin disable` without -f fails
 * with "in use" as soon as one volume exists, and -f is only harmless when no running container has one mounted.
 */
export function pluginEnabledError(plugin: EnabledPlugin): PrerequisiteError {
  const { name, users } = plugin;
  const refused = `the volume plugin ${name} is enabled; it must not run while keys change. Nothing was written`;
  if (users.length === 0) {
    return new PrerequisiteError(
      'plugin-disabled',
      `${refused}. No running container uses a volume of ${name}`,
      `docker plugin disable -f ${name} ${disableNote(name)}, run this again, then docker plugin enable ${name}`,
    );
  }
  const list = users.map((u) => `${u.container} (${u.volumes.join(', ')})`).join(', ');
  return new PrerequisiteError(
    'plugin-disabled',
    `${refused}. Running containers use volumes of ${name}: ${list}`,
    `docker stop ${users.map((u) => u.container).join(' ')}, then docker plugin disable -f ${name} ${disableNote(name)}, run this again, then docker plugin enable ${name} and start the containers`,
  );
}
