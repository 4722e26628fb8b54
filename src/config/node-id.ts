/** What a node id may be, wherever it comes from (hpe.conf, the plugin setting, a .node_id file). */
import { z } from 'zod';
import { shown } from './values.js';

/** Upstream's ids are 36-character uuids; the bound only keeps a stray file or paste from becoming a key. */
export const NodeIdMaxLength = 128;

export const NodeIdFix = `write one word of at most ${NodeIdMaxLength} characters without whitespace, '/', '{' or '}', distinct on every host (e.g. the host name)`;

/**
 * Why `text` cannot be a node id, or undefined when it can. The id is part of etcd keys
 * (`/volume-mount-intents/<node>/<uuid>`), so `/` would split them; whitespace, braces and control
 * characters are refused so the id reads the same in logs, JSON records and shell commands.
 */
export function nodeIdProblem(text: string): string | undefined {
  if (text === '') return 'is empty';
  if (text.length > NodeIdMaxLength) return `is ${text.length} characters long; at most ${NodeIdMaxLength} are allowed`;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(text)) return /[\r\n]/.test(text) ? 'spans more than one line' : 'contains a control character';
  if (/\s/.test(text)) return `contains whitespace ('${shown(text)}')`;
  const bad = /[/{}]/.exec(text);
  if (bad !== null) return `contains '${bad[0]}' ('${shown(text)}')`;
  return undefined;
}

export const nodeIdValue = z.string().transform((text, ctx) => {
  const problem = nodeIdProblem(text.trim());
  if (problem === undefined) return text.trim();
  ctx.issues.push({ code: 'custom', input: text, message: problem });
  return z.NEVER;
});
