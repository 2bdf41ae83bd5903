/**
 * Check 2: the I2C adapter exists (/dev/i2c-N). When it does not, the cause depends on the
 * machine: on a Raspberry Pi, I2C is either not enabled in config.txt or enabled but not active
 * until a reboot; elsewhere there is simply no I2C hardware, and the simulated chip is the way
 * to run the gateway.
 */
import type { Check, CheckOutcome } from './check.ts';
import { type DoctorContext, devicePath } from './context.ts';
import type { HostFiles } from './environment.ts';

/** Bookworm and later keep it in /boot/firmware; older Raspberry Pi OS in /boot. */
export const PI_CONFIG_FILES = ['/boot/firmware/config.txt', '/boot/config.txt'];
/** The header's I2C (pins 3 and 5) is /dev/i2c-1; dtparam=i2c_arm turns it on. */
const PI_HEADER_BUS = 1;
const ENABLE_FIX = 'sudo raspi-config nonint do_i2c 0 (or add dtparam=i2c_arm=on to /boot/firmware/config.txt), then reboot';

export const i2cEnabledCheck: Check = {
  id: 'i2c-enabled',
  name: 'I2C enabled',
  needs: [],
  run(ctx) {
    if (ctx.target.driver === 'simulated') {
      return { status: 'skip', reason: 'simulated', detail: `driver simulated: no ${devicePath(ctx.target)} needed` };
    }
    const dev = devicePath(ctx.target);
    const { files } = ctx.env;
    if (files.exists(dev)) {
      const name = adapterName(files, ctx.target.sensor.bus);
      return { status: 'ok', detail: `${dev} exists${name ? ` (${name})` : ''}`, data: { device: dev, adapter: name } };
    }
    return missingAdapter(ctx, dev);
  },
};

function missingAdapter(ctx: DoctorContext, dev: string): CheckOutcome {
  const { files } = ctx.env;
  const adapters = listAdapters(files);
  const present = adapters.length > 0 ? `adapters here: ${adapters.join(', ')}` : 'no /dev/i2c-* at all';
  const data = { device: dev, adapters };
  const otherBus = adapters.length > 0 ? `; or choose one of the adapters present with --bus` : '';
  const board = ctx.env.board();
  const code = 'GW_ERR_I2C_NO_ADAPTER' as const;

  if (!board.isRaspberryPi) {
    return {
      status: 'fail',
      code,
      reason: 'not-a-raspberry-pi',
      detail: `no ${dev}: this machine (${board.model ?? 'no device-tree model'}) is not a Raspberry Pi and has no such I2C adapter (${present})`,
      fix: `to run the gateway here without hardware, use the simulated TMP102: --driver simulated (npm run doctor -- --driver simulated checks that setup)${otherBus}`,
      data: { ...data, board: board.model ?? null },
    };
  }
  if (ctx.target.sensor.bus !== PI_HEADER_BUS) {
    return {
      status: 'fail',
      code,
      reason: 'no-adapter',
      detail: `no ${dev} on this ${board.model} (${present})`,
      fix: `the header's I2C is bus ${PI_HEADER_BUS} (--bus ${PI_HEADER_BUS}); bus ${ctx.target.sensor.bus} needs its own dtoverlay in config.txt${otherBus}`,
      data: { ...data, board: board.model },
    };
  }
  const config = PI_CONFIG_FILES.find((f) => files.exists(f));
  const enabled = config !== undefined && i2cArmEnabled(readOrEmpty(files, config));
  if (enabled) {
    return {
      status: 'fail',
      code,
      reason: 'reboot-needed',
      detail: `no ${dev}, but dtparam=i2c_arm=on is in ${config}: configured but not active (${present})`,
      fix: 'reboot (sudo reboot); if it is still missing afterwards, load the i2c-dev module: sudo modprobe i2c-dev, and add i2c-dev to /etc/modules',
      data: { ...data, board: board.model, configFile: config },
    };
  }
  return {
    status: 'fail',
    code,
    reason: 'not-enabled',
    detail: `no ${dev}: I2C is not enabled on this ${board.model} (${config ? `no dtparam=i2c_arm=on in ${config}` : `no ${PI_CONFIG_FILES.join(' or ')}`}; ${present})`,
    fix: ENABLE_FIX,
    data: { ...data, board: board.model, configFile: config ?? null },
  };
}

/** /dev/i2c-N names, by adapter number. */
export function listAdapters(files: HostFiles): string[] {
  let names: string[];
  try {
    names = files.list('/dev');
  } catch {
    return [];
  }
  return names
    .filter((n) => /^i2c-\d+$/.test(n))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
    .map((n) => `/dev/${n}`);
}

/** The kernel's name for adapter N ("bcm2835 (i2c@7e804000)", "SMBus stub driver"). */
function adapterName(files: HostFiles, bus: number): string | undefined {
  try {
    return files.readText(`/sys/class/i2c-dev/i2c-${bus}/name`).trim() || undefined;
  } catch {
    return undefined;
  }
}

function readOrEmpty(files: HostFiles, file: string): string {
  try {
    return files.readText(file);
  } catch {
    return '';
  }
}

/**
 * Whether config.txt turns the header I2C on: the last `dtparam=` setting of `i2c_arm` (or its
 * alias `i2c`) outside a comment. Several parameters may share one line
 * (`dtparam=i2c_arm=on,spi=on`); "on", "true", "yes", "okay" and a bare name mean on
 * (Raspberry Pi documentation, "config.txt: dtparam"). Conditional sections ([pi4]...) are not
 * evaluated.
 */
export function i2cArmEnabled(configTxt: string): boolean {
  let enabled = false;
  for (const raw of configTxt.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^dtparam\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    for (const param of m[1]!.split(',')) {
      const [name, value] = param.split('=').map((s) => s.trim());
      if (name !== 'i2c_arm' && name !== 'i2c') continue;
      enabled = value === undefined || ['on', 'true', 'yes', 'okay'].includes(value.toLowerCase());
    }
  }
  return enabled;
}
