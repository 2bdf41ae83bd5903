export declare const BUNDLE_DIR: string;
export declare const PROJECT_ROOT: string;
export declare const MANIFEST_FILE: string;
export declare function writeBundle(name: string, code: Uint8Array | string): string;
export declare function sha256Hex(bytes: Uint8Array | string): string;
export declare const ownImportMetaUrl: { name: string; setup(build: unknown): void };
export declare const BUNDLE_OPTIONS: Readonly<{ bundle: true; platform: 'node'; format: 'esm'; target: 'node20'; packages: 'external'; write: false; logLevel: 'silent' }>;
