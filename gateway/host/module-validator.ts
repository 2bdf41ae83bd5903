/**
 * Checks a compiled module against ABI v1 before anything of it runs (docs/module-abi.md,
 * "Refusals at load time"). The version export is checked after instantiation, since it is code.
 */
import { GatewayError } from '../errors.ts';
import { GW_IMPORT_NAMES, GW_NAMESPACE, REQUIRED_EXPORTS, WASI_NAMESPACE } from './abi.ts';
import { WASI_PREVIEW1_FUNCTIONS } from './wasi-preview1.ts';
import { type Signature, formatSignature, readSignatures, sameSignature } from './wasm-signatures.ts';

const i32 = 'i32' as const;

const EXPORT_SIGNATURES: Record<string, Signature> = {
  _initialize: { params: [], results: [] },
  gw_abi_version: { params: [], results: [i32] },
  gw_init: { params: [i32], results: [i32] },
  gw_read: { params: [i32], results: [i32] },
};

const GW_IMPORT_SIGNATURES: Record<(typeof GW_IMPORT_NAMES)[number], Signature> = {
  input_read: { params: [i32, i32], results: [i32] },
  output_write: { params: [i32, i32], results: [i32] },
  log: { params: [i32, i32, i32], results: [] },
  i2c_write: { params: [i32, i32, i32, i32], results: [i32] },
  i2c_read: { params: [i32, i32, i32, i32], results: [i32] },
  i2c_read_reg: { params: [i32, i32, i32, i32, i32], results: [i32] },
  i2c_write_reg: { params: [i32, i32, i32, i32, i32], results: [i32] },
};

const wasiNames = new Set<string>(WASI_PREVIEW1_FUNCTIONS);
const gwNames = new Set<string>(GW_IMPORT_NAMES);

export function compileModule(bytes: Uint8Array, name: string): WebAssembly.Module {
  try {
    return new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (err) {
    throw new GatewayError('GW_ERR_MODULE_INVALID', { sensor: name, detail: (err as Error).message }, { cause: err });
  }
}

/** As compileModule, with V8 compiling on its background threads: the calling thread goes on meanwhile. */
export async function compileModuleAsync(bytes: Uint8Array, name: string): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (err) {
    throw new GatewayError('GW_ERR_MODULE_INVALID', { sensor: name, detail: (err as Error).message }, { cause: err });
  }
}

export function validateModule(module: WebAssembly.Module, bytes: Uint8Array, name: string): void {
  const exports = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  for (const required of REQUIRED_EXPORTS) {
    const kind = exports.get(required.name);
    if (kind === undefined) {
      throw new GatewayError('GW_ERR_MODULE_MISSING_EXPORT', { sensor: name, detail: `no export "${required.name}"` });
    }
    if (kind !== required.kind) {
      throw new GatewayError('GW_ERR_MODULE_MISSING_EXPORT', { sensor: name, detail: `export "${required.name}" is a ${kind}, expected a ${required.kind}` });
    }
  }

  for (const imp of WebAssembly.Module.imports(module)) {
    const known =
      imp.kind === 'function' &&
      ((imp.module === GW_NAMESPACE && gwNames.has(imp.name)) || (imp.module === WASI_NAMESPACE && wasiNames.has(imp.name)));
    if (!known) {
      throw new GatewayError('GW_ERR_MODULE_UNKNOWN_IMPORT', { sensor: name, detail: `imports ${imp.kind} "${imp.module}.${imp.name}"` });
    }
  }

  const sigs = readSignatures(bytes);
  if (!sigs) return;
  for (const [exportName, expected] of Object.entries(EXPORT_SIGNATURES)) {
    const actual = sigs.exports.get(exportName);
    if (actual && !sameSignature(actual, expected)) {
      throw new GatewayError('GW_ERR_MODULE_MISSING_EXPORT', {
        sensor: name,
        detail: `export "${exportName}" has signature ${formatSignature(actual)}, expected ${formatSignature(expected)}`,
      });
    }
  }
  for (const [importName, expected] of Object.entries(GW_IMPORT_SIGNATURES)) {
    const actual = sigs.imports.get(`${GW_NAMESPACE}.${importName}`);
    if (actual && !sameSignature(actual, expected)) {
      throw new GatewayError('GW_ERR_MODULE_UNKNOWN_IMPORT', {
        sensor: name,
        detail: `import "gw.${importName}" has signature ${formatSignature(actual)}, expected ${formatSignature(expected)}`,
      });
    }
  }
}
