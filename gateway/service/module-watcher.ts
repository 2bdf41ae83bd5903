/**
 * Watches the sensors' module files and hot-reloads a sensor when its file's content changes.
 * The directory is watched, not the file: replacing a file by rename (the safe way to update
 * it: write elsewhere, then `mv`) gives it a new inode that a file watch would miss. Events
 * are debounced, and a change is a change of SHA-256, so touching a file does nothing.
 *
 * The file is read the way a load reads it (gateway/host/module-file.ts): a path that is for a
 * while a FIFO, a device or an oversized file is refused at once, without being read, and the
 * sensor reloads as soon as a regular file with new content is back. This matters beyond the
 * one read: a plain readFile of a FIFO blocks in open(2) until a writer comes, so the reload
 * that SIGHUP or this watcher started would never finish, and reloadModule hands every later
 * request for the sensor that same attempt: the sensor would never reload again.
 */
import { type FSWatcher, watch } from 'node:fs';
import path from 'node:path';
import { BoundedFileError } from '../../drivers/bounded-file.ts';
import { GatewayError } from '../errors.ts';
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
  /** The refusal last logged per sensor: a file that stays wrong is reported once, not on every event. */
  const refused = new Map<string, string>();
  const check = async (entry: SensorEntry): Promise<void> => {
    const name = entry.config.name;
    let sha256: string;
    try {
      sha256 = (await readModuleFile({ ...entry.config, sha256: undefined })).sha256;
    } catch (err) {
      // Missing: mid-replacement or removed, the next event will tell. Anything else (a FIFO,
      // a device, too large, not WebAssembly) was refused without being read: say so once.
      if (isMissing(err)) return;
      const detail = err instanceof Error ? err.message : String(err);
      if (refused.get(name) !== detail) {
        refused.set(name, detail);
        target.logger.warn('module file refused; the running module stays', { sensor: name, file: entry.config.module, code: err instanceof GatewayError ? err.code : 'GW_ERR_INTERNAL', detail });
      }
      return;
    }
    refused.delete(name);
    if (sha256 === entry.moduleSha256 || sha256 === tried.get(name)) return;
    tried.set(name, sha256);
    target.logger.info('module file changed; reloading', { sensor: name, file: entry.config.module, sha256 });
    await target.reload(name);
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

function isMissing(err: unknown): boolean {
  return err instanceof GatewayError && err.cause instanceof BoundedFileError && err.cause.errno === 'ENOENT';
}
