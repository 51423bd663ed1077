/**
 * Node telemetry for heartbeats: CPU load, memory, and temperature from /sys/class/thermal when the
 * device has a thermal zone. Temperature is reported as absent otherwise — never invented.
 */
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';

export interface TelemetrySample {
  cpuLoad: number;
  memUsedBytes: number;
  memTotalBytes: number;
  hasTemperature: boolean;
  temperatureC: number;
  rssBytes: number;
}

/** Highest temperature over the thermal zones in °C, or undefined when there are none readable. */
export function readTemperatureC(root = '/sys/class/thermal'): number | undefined {
  let zones: string[];
  try {
    zones = readdirSync(root).filter((z) => z.startsWith('thermal_zone'));
  } catch {
    return undefined;
  }
  let best: number | undefined;
  for (const z of zones) {
    try {
      const milli = Number(readFileSync(`${root}/${z}/temp`, 'utf8').trim());
      if (Number.isFinite(milli)) best = Math.max(best ?? -Infinity, milli / 1000);
    } catch {
      /* unreadable zone */
    }
  }
  return best;
}

export function sampleTelemetry(thermalRoot?: string): TelemetrySample {
  const t = readTemperatureC(thermalRoot);
  const total = totalmem();
  return {
    cpuLoad: loadavg()[0] / Math.max(1, cpus().length),
    memUsedBytes: total - freemem(),
    memTotalBytes: total,
    hasTemperature: t !== undefined,
    temperatureC: t ?? 0,
    rssBytes: process.memoryUsage.rss(),
  };
}
