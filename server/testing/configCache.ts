import type { SurfaceConfig } from "../surfaces/configCache";

/**
 * A SurfaceConfigCache `prepare` for tests: the configs `holds` picks wait (as if their models were
 * opening) until release(); the others are prepared at once.
 */
export function gatedPrepare(holds: (config: SurfaceConfig) => boolean): { prepare: (config: SurfaceConfig) => Promise<void>; release: () => void } {
  let release = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  return { prepare: async (config) => (holds(config) ? gate : undefined), release: () => release() };
}
