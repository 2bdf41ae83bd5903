/**
 * A JSON file the gateway is given (the configuration, a scenario), read with a ceiling
 * (drivers/bounded-file.ts) so a wrong path (/dev/zero, a log) is refused before it is read
 * whole. Every problem is the caller's own refusal (its catalogue code), naming the field
 * "(file)" the way the rest of that file's validation names its fields.
 */
import { BoundedFileError, readBoundedFile } from '../../drivers/bounded-file.ts';
import type { InvalidField } from './config-fields.ts';

export type { InvalidField } from './config-fields.ts';

export async function readJsonFile(file: string, maxBytes: number, invalid: InvalidField): Promise<unknown> {
  let text: string;
  try {
    text = (await readBoundedFile(file, { maxBytes })).toString('utf8');
  } catch (err) {
    throw invalid('(file)', err instanceof BoundedFileError ? err.message : `cannot read ${file}: ${String(err)}`, err);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalid('(file)', `${file} is not valid JSON: ${(err as Error).message}`);
  }
}
