export declare const BUNDLE_DIR: string;
export declare function writeBundle(name: string, code: Uint8Array | string): string;
export declare const BUNDLE_OPTIONS: Readonly<{ bundle: true; platform: 'node'; format: 'esm'; target: 'node20'; packages: 'external'; write: false; logLevel: 'silent' }>;
