/**
 * A multi-quantity sensor's own path (e.g. /env of an SHT3x): every quantity of a reading in one
 * representation, a SenML pack or a map (pack-formats.ts). GET and FETCH take the parameters of
 * a single reading (request-params.ts), checked the same way and in the same order, since the
 * check is a reading resource's own (`prepare`); then:
 *
 * - `unit` converts the quantities in Celsius and leaves the others as they are; on a sensor with
 *   no temperature it is refused (4.00), as on `<path>/<quantity>` of a humidity.
 * - `precision` rounds every value.
 * - Observe (RFC 7641): a notification when any value changes. c.pmin and c.pmax apply (they are
 *   about time, not a value); c.gt, c.lt and c.st are refused with 4.00 and a detail naming
 *   `<path>/<quantity>`: a threshold is on one quantity, which is observed there.
 */
import { GatewayError } from '../errors.ts';
import type { QuantityInfo } from '../host/sensor-module.ts';
import type { FreshReading } from '../service/paced-reader.ts';
import type { SensorReading } from '../service/sensor-reading.ts';
import type { SensorService } from '../service/sensor-service.ts';
import { errorReply } from './error-response.ts';
import { CONVERTIBLE_UNIT } from './measurement-view.ts';
import type { ObservableResource } from './observable-resource.ts';
import { type PackEntry, encodePack, packFingerprint } from './pack-formats.ts';
import { type ReadingRequest, ReadingResource, type Representation, freshMaxAge } from './reading-resource.ts';
import { type Reply, type RequestView, fromError } from './reply.ts';
import { convert } from './request-params.ts';

/** Variants kept per reading (format x unit x precision), as for a single reading. */
const MAX_VARIANTS = 32;

export class PackResource implements ObservableResource {
  readonly #service: SensorService;
  readonly #sensor: string;
  /** Where the sensor is served, for the detail of a refused condition. */
  readonly #path: string;
  /** The quantities at start-up (discovery lists them; a conversion needs one in Celsius). */
  readonly #quantities: readonly QuantityInfo[];
  /** Checks a request as a single reading's would be checked: method, body, parameters, Accept. */
  readonly #reading: ReadingResource;
  #memo: { reading: SensorReading; variants: Map<string, Representation> } | undefined;

  constructor(service: SensorService, sensor: string, options: { path: string; quantities: readonly QuantityInfo[]; timeScale?: number }) {
    this.#service = service;
    this.#sensor = sensor;
    this.#path = options.path;
    this.#quantities = options.quantities;
    this.#reading = new ReadingResource(service, sensor, options.timeScale === undefined ? {} : { timeScale: options.timeScale });
  }

  get sensor(): string {
    return this.#sensor;
  }

  get timeScale(): number {
    return this.#reading.timeScale;
  }

  /** At once when refused or a fresh reading is there; a promise when the sensor must be read. */
  handle(req: RequestView): Reply | Promise<Reply> {
    let prepared: ReadingRequest;
    try {
      prepared = this.prepare(req);
      const fresh = this.#service.peekFresh(this.#sensor);
      if (fresh !== undefined) return this.#reply(fresh, prepared);
    } catch (err) {
      return fromError(errorReply(err, this.timeScale));
    }
    return this.#service.readFresh(this.#sensor).then(
      (fresh) => this.#reply(fresh, prepared),
      (err: unknown) => fromError(errorReply(err, this.timeScale)),
    );
  }

  prepare(req: RequestView): ReadingRequest {
    const prepared = this.#reading.prepare(req);
    const { gt, lt, st } = prepared.conditions;
    if (gt !== undefined || lt !== undefined || st !== undefined) {
      const example = `${this.#path === '/' ? '' : this.#path}/${this.#quantities[0]?.name ?? 'temperature'}`;
      throw new GatewayError('GW_ERR_REQUEST_BAD_PARAMETER', { detail: `c.gt, c.lt and c.st apply to one quantity: observe ${this.#path}/<quantity> (e.g. ${example}) with them` });
    }
    if (prepared.params.unit !== undefined && !this.#quantities.some((q) => q.unit === CONVERTIBLE_UNIT)) {
      throw new GatewayError('GW_ERR_REQUEST_BAD_PARAMETER', { detail: `unit converts temperatures only, and ${this.#sensor} measures none (${this.#quantities.map((q) => `${q.name} in ${q.unit}`).join(', ')}); leave unit out` });
    }
    return prepared;
  }

  represent(reading: SensorReading, req: ReadingRequest): Representation {
    let memo = this.#memo;
    if (memo?.reading !== reading) this.#memo = memo = { reading, variants: new Map() };
    let rep = memo.variants.get(req.variant);
    if (rep === undefined) {
      const entries: PackEntry[] = reading.measurements.map((m) => {
        // Only a temperature converts; the other quantities keep their unit, rounded alike.
        const params = m.unit === CONVERTIBLE_UNIT ? req.params : { precision: req.params.precision };
        const { value, unit } = convert(m.value, m.unit, params);
        return { quantity: m.quantity, value, unit };
      });
      rep = { value: packFingerprint(entries), payload: encodePack({ sensor: reading.sensor, timeMs: reading.timeMs, entries, simulated: reading.simulated }, req.format) };
      if (memo.variants.size < MAX_VARIANTS) memo.variants.set(req.variant, rep);
    }
    return rep;
  }

  #reply(fresh: FreshReading<SensorReading>, req: ReadingRequest): Reply {
    const { payload } = this.represent(fresh.reading, req);
    return { code: '2.05', contentFormat: req.format, maxAge: freshMaxAge(fresh.freshForMs, this.timeScale), payload };
  }
}
