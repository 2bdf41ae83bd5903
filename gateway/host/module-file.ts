/** Reads a module file; a file that cannot be read is GW_ERR_MODULE_NOT_FOUND naming it. */
import { readFile } from 'node:fs/promises';
import { GatewayError } from '../errors.ts';

export async function readModuleBytes(path: string, sensor: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new GatewayError('GW_ERR_MODULE_NOT_FOUND', { sensor, detail: `${path}: ${(err as NodeJS.ErrnoException).code ?? err}` }, { cause: err });
  }
}
