/**
 * Live control of a simulated gateway (issue 16): skeleton written by the integrator so the
 * CoAP front can be wired while the control itself is being built; replaced by its helper.
 */
export class SimulationControl {
  /** What GET /gw/sim answers and /gw/stats shows under `simulation`. */
  snapshot(): Record<string, unknown> {
    return {};
  }

  /** Applies one decoded command body from `source` (a client address or OSCORE name); returns the state after it. Throws GatewayError. */
  command(_body: unknown, _source: string): Record<string, unknown> {
    return {};
  }
}
