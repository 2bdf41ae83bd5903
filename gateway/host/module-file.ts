/**
 * Reads a module file, checked before it is read (drivers/bounded-file.ts): a path that is not
 * a regular file (a FIFO, /dev/zero, a directory, also through a symlink) or cannot be opened
 * is GW_ERR_MODULE_NOT_FOUND naming it; a file over MODULE_FILE_MAX_BYTES, or whose first 8
 * bytes are not a WebAssembly version 1 header, is GW_ERR_MODULE_INVALID, and nothing past
 * those 8 bytes is read or allocated.
 */
import { BoundedFileError, readBoundedFile } from '../../drivers/bounded-file.ts';
import { GatewayError } from '../errors.ts';

/**
 * The largest module file accepted. The shipped TMP102 module (Go, wasip1) is 2.1 MiB and a
 * Go module for a bigger driver stays well under 8; 16 MiB leaves room for that and for a
 * debug build, while keeping what a wrong path can make the gateway allocate (the bytes, a
 * copy, the compiled code) far below a Raspberry Pi's memory. docs/configuration.md.
 */
export const MODULE_FILE_MAX_BYTES = 16 * 2 ** 20;

/**
 * A core module starts with the magic `\0asm` and version 1 as a little-endian u32
 * (WebAssembly spec 5.5.16 "Modules"). A component-model binary shares the magic but not the
 * version bytes (0d 00 01 00): it is not a module this host can instantiate.
 */
const WASM_HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00] as const;

export async function readModuleBytes(path: string, sensor: string): Promise<Uint8Array> {
  try {
    const bytes = await readBoundedFile(path, { maxBytes: MODULE_FILE_MAX_BYTES, head: { bytes: WASM_HEADER.length, check: (head) => checkHeader(head, path, sensor) } });
    // A copy that owns exactly its bytes: the buffer read into may be a slice of a larger one.
    return new Uint8Array(bytes);
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    const code = err instanceof BoundedFileError && err.problem === 'too-large' ? 'GW_ERR_MODULE_INVALID' : 'GW_ERR_MODULE_NOT_FOUND';
    throw new GatewayError(code, { sensor, detail: err instanceof Error ? err.message : `${path}: ${String(err)}` }, { cause: err });
  }
}

function checkHeader(head: Uint8Array, path: string, sensor: string): void {
  const magic = head.length >= 4 && WASM_HEADER.slice(0, 4).every((b, i) => head[i] === b);
  if (!magic) throw new GatewayError('GW_ERR_MODULE_INVALID', { sensor, detail: `${path} does not start with the WebAssembly magic number \\0asm` });
  if (head.length < 8 || !WASM_HEADER.slice(4).every((b, i) => head[4 + i] === b)) {
    const version = head.length < 8 ? 'truncated' : `0x${Buffer.from(head.subarray(4, 8)).toString('hex')}`;
    throw new GatewayError('GW_ERR_MODULE_INVALID', { sensor, detail: `${path} is not a WebAssembly version 1 core module (version bytes ${version}; a component is not a module)` });
  }
}
