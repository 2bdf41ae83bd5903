export declare const BUNDLE_DIR: string;
export declare function writeBundle(name: string, code: Uint8Array | string): string;
