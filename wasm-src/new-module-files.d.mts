// Types of new-module-files.mjs, for the TypeScript tests that import it (test/new-module.test.ts).
export declare const KIT_PATH: string;
export declare const KIT_VERSION: string;
export declare function moduleFiles(o: { name: string; address: number; dir: string; kitDir: string; gatewayDir: string }): Record<string, string>;
