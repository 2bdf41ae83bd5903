/**
 * What the Observe layer (observe-layer.ts) needs of a resource: check a request once, then
 * encode each reading the feed brings for it. Implemented by a sensor's reading and each of its
 * quantities (reading-resource.ts) and by a multi-quantity sensor's pack (pack-resource.ts).
 */
import type { SensorReading } from '../service/sensor-reading.ts';
import type { ReadingRequest, Representation } from './reading-resource.ts';
import type { RequestView } from './reply.ts';

export interface ObservableResource {
  /** The sensor whose feed drives the notifications. */
  readonly sensor: string;
  /** How much faster the sensor's clock runs than the network's: Max-Age is divided by it. */
  readonly timeScale: number;
  /** Checks the request without reading the sensor; throws a GatewayError for the client. */
  prepare(req: RequestView): ReadingRequest;
  /**
   * The reading as `req` asks for it. `value` is what "changed?" compares (observe-conditions.ts):
   * the reported value, or for a pack a fingerprint of all its values.
   */
  represent(reading: SensorReading, req: ReadingRequest): Representation;
}
