export declare const BUNDLE_ENTRIES: Readonly<Record<string, string>>;
export declare const COMMANDS: readonly string[];
export declare const INSTALLED_BUNDLES: unique symbol;
export interface BundleManifest {
  format: number;
  bundles: Record<string, string>;
  entries: Record<string, string>;
  inputs: Record<string, string>;
}
export declare class BundleProblem extends Error {
  readonly code: 'GW_ERR_BUILD_MISSING' | 'GW_ERR_BUILD_STALE';
  constructor(code: string, message: string);
}
export declare function checkedManifest(): BundleManifest;
