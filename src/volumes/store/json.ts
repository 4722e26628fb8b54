/** Reading a stored JSON document through a zod schema: the value, or one line saying why it is not one. */
import type { z } from 'zod';

export type SchemaIssue = z.core.$ZodIssue;

export function parseStored<T>(schema: z.ZodType<T>, value: string, describe: (issue: SchemaIssue) => string): T | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  const result = schema.safeParse(parsed);
  return result.success ? result.data : describe(result.error.issues[0]!);
}
