/**
 * Opens the GPIO input each sensor's ALERT pin is wired to. A simulated TMP102 drives a
 * simulated GPIO line (looked at after each conversion ends, as the real chip raises ALERT on
 * its own at the end of a conversion); on real hardware `sensors[].alertGpio`
 * names the header GPIO, found through the pinctrl chip's sysfs base (drivers/linux-gpio.ts).
 * A GPIO that cannot be opened is logged, and the sensor works without ALERT.
 */
import type { Clock } from '../../drivers/clock.ts';
import type { GpioInput } from '../../drivers/gpio.ts';
import { LinuxGpioInput } from '../../drivers/linux-gpio.ts';
import { SimulatedGpioInput } from '../../drivers/sim/sim-gpio.ts';
import { SimulatedTmp102 } from '../../drivers/sim/tmp102.ts';
import type { Logger } from '../log.ts';
import type { GatewayConfig } from './config.ts';
import type { Hardware } from './hardware.ts';

export async function openAlertInputs(config: GatewayConfig, hardware: Hardware, clock: Clock, logger: Logger): Promise<Map<string, GpioInput>> {
  const inputs = new Map<string, GpioInput>();
  for (const sensor of config.sensors) {
    const chip = hardware.simulated.get(sensor.name);
    // Only the simulated TMP102 has an ALERT line; another simulated device has none to watch.
    if (chip instanceof SimulatedTmp102) {
      const line = new SimulatedGpioInput(chip);
      line.start(clock);
      inputs.set(sensor.name, line);
      continue;
    }
    if (chip || sensor.alertGpio === undefined) continue;
    try {
      const input = await LinuxGpioInput.open(sensor.alertGpio, { clock });
      logger.info('ALERT pin watched', { sensor: sensor.name, gpio: input.description });
      inputs.set(sensor.name, input);
    } catch (err) {
      logger.warn('ALERT pin not available; observers are notified at the conversion rate only', {
        sensor: sensor.name,
        gpio: sensor.alertGpio,
        detail: err instanceof Error ? err.message : String(err),
      });
    }
  }
  return inputs;
}
