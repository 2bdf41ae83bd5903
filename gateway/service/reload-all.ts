/**
 * Reloading every sensor at once (SIGHUP). The reloads run side by side: one sensor's reload
 * waits for its running module's call in flight (up to that module's deadline) and for a worker
 * to start, and a looping module's would otherwise hold up every sensor after it. Each sensor's
 * own reloads are still one at a time (module-reload.ts).
 */
import type { ReloadResult } from './module-reload.ts';
import type { SensorEntry } from './sensor-entry.ts';

export interface Reloadable {
  list(): SensorEntry[];
  reload(name: string, options?: { sha256?: string | null }): Promise<ReloadResult>;
}

/**
 * Starts every sensor's reload now and returns each one's promise by sensor name (each settles
 * on its own; none rejects). `sha256Of(name)`: the checksum in force for a sensor (a string),
 * none (null), or keep the configured one (undefined, the default).
 */
export function reloadAll(service: Reloadable, sha256Of: (name: string) => string | null | undefined = () => undefined): Map<string, Promise<ReloadResult>> {
  const reloads = new Map<string, Promise<ReloadResult>>();
  for (const entry of service.list()) {
    const name = entry.config.name;
    const sha256 = sha256Of(name);
    reloads.set(name, service.reload(name, sha256 === undefined ? {} : { sha256 }).catch((err: unknown) => ({
      ok: false as const,
      code: 'GW_ERR_INTERNAL' as const,
      reason: err instanceof Error ? err.message : String(err),
    })));
  }
  return reloads;
}
