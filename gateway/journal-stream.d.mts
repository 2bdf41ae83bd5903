export declare function isJournalStream(env: NodeJS.ProcessEnv, fd: number | undefined): boolean;
export declare function stderrErrorPrefix(): string;
