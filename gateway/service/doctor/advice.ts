/**
 * What to do about a coded error, in the doctor's words (docs/errors.md, "what to do"), with the
 * sensor's bus and address filled in.
 */
import { hexAddress } from '../../../drivers/i2c-scan.ts';
import type { ErrorCode } from '../../errors.ts';
import type { SensorConfig } from '../config.ts';

/** TMP102 address by the ADD0 pin (SBOS397 "Serial Bus Address"). */
export const ADD0_WIRING = 'ADD0 to GND = 0x48, V+ = 0x49, SDA = 0x4a, SCL = 0x4b';
export const WIRING = 'V+ to 3V3 (pin 1), GND (pin 6), SDA (pin 3), SCL (pin 5)';

export function adviceFor(code: ErrorCode, sensor: SensorConfig): string {
  const at = `${hexAddress(sensor.address)} on bus ${sensor.bus}`;
  switch (code) {
    case 'GW_ERR_I2C_NACK':
      return `check the wiring (${WIRING}), the 3.3 V power and ADD0 (${ADD0_WIRING}) for ${at}`;
    case 'GW_ERR_I2C_BUS':
      return 'the transfer failed on the wire: check the pull-ups on SDA and SCL and the cable length, then run the doctor again';
    case 'GW_ERR_I2C_TIMEOUT':
      return 'the bus is stuck (SCL held low): power-cycle the sensor, look for a device holding the bus, check SDA/SCL for shorts';
    case 'GW_ERR_I2C_PERMISSION':
      return 'sudo usermod -aG i2c $USER, then log in again';
    case 'GW_ERR_I2C_NO_ADAPTER':
      return 'sudo raspi-config nonint do_i2c 0 (or dtparam=i2c_arm=on in /boot/firmware/config.txt), then reboot';
    case 'GW_ERR_I2C_BUSY':
      return `a kernel driver owns ${at} (i2cdetect shows UU): remove the dtoverlay that binds it (e.g. dtoverlay=i2c-sensor,tmp102 in /boot/firmware/config.txt) and reboot, or unbind the driver`;
    case 'GW_ERR_I2C_UNSUPPORTED':
      return 'the adapter cannot do this kind of transfer: use an adapter with plain I2C and SMBus support (the Pi\'s own bus 1 has both)';
    case 'GW_ERR_SENSOR_WRONG_DEVICE':
      return `another chip answers at ${at}: check the address (${ADD0_WIRING}) against --address / sensors[].address`;
    case 'GW_ERR_SENSOR_NOT_READY':
      return 'the sensor never finished a conversion: power-cycle it and run the doctor again';
    case 'GW_ERR_MODULE_NOT_FOUND':
      return 'the module file is missing, unreadable or not a regular file (a directory, a FIFO, a device): check sensors[].module; the shipped one is modules/tmp102.wasm (git checkout modules/ restores it; npm run build:modules rebuilds it, with Go)';
    case 'GW_ERR_MODULE_CHECKSUM':
      return 'the module file differs from sensors[].sha256: check the file; after a deliberate update put its new sha256sum in the configuration';
    case 'GW_ERR_MODULE_BAD_CONFIG':
      return 'the module refused its settings or address: fix sensors[].settings / the address (a TMP102 is at 0x48..0x4b)';
    case 'GW_ERR_CAPABILITY_DENIED':
      return 'grant the module the address it needs in sensors[].grant';
    default:
      return code.startsWith('GW_ERR_MODULE_') ? 'the module failed: rebuild or reinstall it (docs/errors.md has the code)' : 'see docs/errors.md for the code';
  }
}
