/**
 * GET /gw/stats: what the gateway has done since it started. CBOR (60) by default, JSON (50) on
 * request, 4.06 otherwise.
 *
 *   {"simulatedSensors": ["tmp102"], "requests": {"2.05": 10, "4.04": 1}, "notifications": {"2.05": 40},
 *    "i2cTransactions": 12, "moduleCalls": 13, "cacheHits": 7, "observers": 2,
 *    "exchanges": {"entries": 11, "bytes": 5432, "evicted": 0, "duplicates": 1}, "uptimeSeconds": 61,
 *    "sensors": {"tmp102": {"simulated": true, "observers": 2, "feedSubscribers": 1, "moduleReads": 12, ...}}}
 *
 * `simulatedSensors` comes first so that an operator sees at a glance whether any value the
 * gateway serves is not a measurement: the sensors a simulated chip answers for, [] when every
 * sensor is real hardware. Each sensor says the same in its `simulated`.
 * `observers` counts CoAP observers (RFC 7641 registrations); `feedSubscribers` is the service's
 * count of feed subscriptions, which is 1 per observed sensor however many observers share it.
 * `exchanges` is duplicate detection (exchange-store.ts): exchanges held, the bytes they are
 * charged against the store's byte budget, exchanges forgotten early because a bound (entries
 * or bytes) was reached, and duplicates recognised (RFC 7252 section 4.5).
 * `simulation`, on a gateway running on simulated sensors only: what GET /gw/sim answers (the
 * scenario's position, each simulated sensor's state, the recent live and scenario changes).
 * The request being answered is not yet in `requests`. Max-Age 0: the numbers move constantly.
 */
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import { GatewayError } from '../errors.ts';
import type { SensorService } from '../service/sensor-service.ts';
import type { SimulationControl } from '../service/simulation-control.ts';
import { type CborMap, encodeCbor } from './cbor-preferred.ts';
import { ContentFormat, negotiate } from './content-formats.ts';
import { errorReply } from './error-response.ts';
import { type Reply, type RequestView, Method, fromError } from './reply.ts';
import type { ExchangeStats } from './exchange-store.ts';
import type { ResponseCounter } from './response-counter.ts';

export const STATS_PATH = '/gw/stats';
const FORMATS = [ContentFormat.CBOR, ContentFormat.JSON] as const;

export interface StatsSources {
  service: SensorService;
  counter: ResponseCounter;
  observers: (sensor?: string) => number;
  /** Duplicate detection (exchange-store.ts). */
  exchanges: () => ExchangeStats;
  clock: Clock;
  /** Monotonic ms when the server started. */
  startedAtMs: number;
  /** The MQTT uplink's state, buffer and counts, when there is one (docs/uplink.md). */
  uplink?: (() => CborMap) | undefined;
  /** Live control of the simulated sensors, when the gateway runs on them (docs/simulation.md). */
  simulation?: SimulationControl | undefined;
}

export class StatsResource {
  readonly #s: StatsSources;

  constructor(sources: StatsSources) {
    this.#s = sources;
  }

  handle(req: RequestView): Reply {
    try {
      if (req.method !== Method.GET) throw new GatewayError('GW_ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: 'allowed: GET' });
      const format = negotiate(req.accept, FORMATS, ContentFormat.CBOR);
      if (format === undefined) throw new GatewayError('GW_ERR_REQUEST_NOT_ACCEPTABLE', { detail: 'offered: 60, 50' });
      const body = this.snapshot();
      const payload = format === ContentFormat.JSON ? new TextEncoder().encode(JSON.stringify(body)) : encodeCbor(body);
      return { code: '2.05', contentFormat: format, maxAge: 0, payload };
    } catch (err) {
      return fromError(errorReply(err));
    }
  }

  snapshot(): CborMap {
    const s = this.#s;
    const service = s.service.stats();
    const sensors: CborMap = {};
    const simulatedSensors: string[] = [];
    for (const [name, st] of Object.entries(service.sensors)) {
      const { simulated, observers: feedSubscribers, ...rest } = st;
      if (simulated) simulatedSensors.push(name);
      sensors[name] = { simulated, observers: s.observers(name), feedSubscribers, ...(rest as unknown as CborMap) };
    }
    // i2cTransactions, moduleCalls, cacheHits and whatever else the service totals.
    const { sensors: _perSensor, ...totals } = service;
    return {
      simulatedSensors,
      requests: s.counter.snapshot('requests'),
      notifications: s.counter.snapshot('notifications'),
      ...(totals as unknown as CborMap),
      observers: s.observers(),
      exchanges: { ...s.exchanges() },
      uptimeSeconds: Math.floor((monotonicMs(s.clock) - s.startedAtMs) / 1000),
      ...(s.uplink ? { uplink: s.uplink() } : {}),
      ...(s.simulation ? { simulation: s.simulation.snapshot() } : {}),
      sensors,
    };
  }
}
