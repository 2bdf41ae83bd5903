/**
 * Watches the sensors' module files and hot-reloads a sensor when its file's content changes.
 * The directory is watched, not the file: replacing a file by rename (the safe way to update
 * it: write elsewhere, then `mv`) gives it a new inode that a file watch would miss. Events
 * are debounced, and a change is a change of SHA-256, so touching a file does nothing.
 */
import { type FSWatcher, watch } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { readModuleFile } from './module-factory.ts';
import type { ReloadResult } from './module-reload.ts';
import type { SensorEntry } from './sensor-entry.ts';

const DEBOUNCE_MS = 300;

export interface WatchTarget {
  entries: () => SensorEntry[];
  reload: (name: string) => Promise<ReloadResult>;
  logger: Logger;
}

export function watchModuleFiles(target: WatchTarget): () => void {
  const watchers: FSWatcher[] = [];
  const timers = new Map<string, NodeJS.Timeout>();
  const dirs = new Set(target.entries().map((e) => path.dirname(e.config.module)));

  /** The content last tried per sensor: a file that failed to load is not retried until it changes again. */
  const tried = new Map<string, string>();
  const check = async (entry: SensorEntry): Promise<void> => {
    let sha256: string;
    try {
      sha256 = (await readModuleFile({ ...entry.config, sha256: undefined })).sha256;
    } catch {
      return; // mid-replacement or removed: the next event will tell
    }
    if (sha256 === entry.moduleSha256 || sha256 === tried.get(entry.config.name)) return;
    tried.set(entry.config.name, sha256);
    target.logger.info('module file changed; reloading', { sensor: entry.config.name, file: entry.config.module, sha256 });
    await target.reload(entry.config.name);
    // The file may have changed again while the reload ran (a reload in progress absorbs
    // further requests): look once more, so the newest content is the one that ends up running.
    await check(entry);
  };

  for (const dir of dirs) {
    try {
      const w = watch(dir, { persistent: false }, (_event, filename) => {
        for (const entry of target.entries()) {
          if (path.dirname(entry.config.module) !== dir || (filename && path.basename(entry.config.module) !== filename.toString())) continue;
          clearTimeout(timers.get(entry.config.name));
          timers.set(entry.config.name, setTimeout(() => void check(entry), DEBOUNCE_MS));
        }
      });
      // An unhandled 'error' on a watcher (the directory removed, say) would end the process.
      w.on('error', (err) => target.logger.warn('module directory watch failed; reload with SIGHUP instead', { dir, detail: err.message }));
      watchers.push(w);
    } catch (err) {
      target.logger.warn('cannot watch module directory; reload with SIGHUP instead', { dir, detail: err instanceof Error ? err.message : String(err) });
    }
  }
  return () => {
    for (const w of watchers) w.close();
    for (const t of timers.values()) clearTimeout(t);
  };
}
