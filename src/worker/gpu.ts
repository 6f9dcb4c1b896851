import { execFile } from 'node:child_process';

/** One GPU's reading from `nvidia-smi`. */
export interface GpuReading {
  readonly utilisationPercent: number;
  readonly memoryMiB: number;
}

/**
 * Parses `nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits`: one line per GPU,
 * e.g. `87, 14560`. Lines that are not two numbers (`[N/A]`, errors) are skipped.
 */
export function parseNvidiaSmi(text: string): GpuReading[] {
  const readings: GpuReading[] = [];
  for (const line of text.split('\n')) {
    const [utilisation, memory] = line.split(',').map((field) => Number(field.trim()));
    if (line.trim() === '' || !Number.isFinite(utilisation) || !Number.isFinite(memory)) continue;
    readings.push({ utilisationPercent: utilisation!, memoryMiB: memory! });
  }
  return readings;
}

/** Reads the GPUs once; undefined when there is no `nvidia-smi` or it failed. */
export type ReadGpus = () => Promise<string | undefined>;

const defaultReadGpus: ReadGpus = () =>
  new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=utilization.gpu,memory.used', '--format=csv,noheader,nounits'],
      { timeout: 5_000 },
      (error, stdout) => resolve(error ? undefined : stdout),
    );
  });

/**
 * GPU utilisation and memory of the container, sampled with `nvidia-smi` where a GPU is present (Batch sets
 * `NVIDIA_VISIBLE_DEVICES` in GPU containers; without it, or without `nvidia-smi`, nothing is sampled). Utilisation
 * is the mean over samples and GPUs; memory the largest total in use at one sample.
 */
export class GpuSampler {
  readonly #read: ReadGpus;
  #enabled: boolean;
  #samples = 0;
  #utilisationSum = 0;
  #peakMemoryMiB = 0;

  constructor(options: { readonly read?: ReadGpus; readonly env?: NodeJS.ProcessEnv } = {}) {
    this.#read = options.read ?? defaultReadGpus;
    const devices = (options.env ?? process.env).NVIDIA_VISIBLE_DEVICES;
    this.#enabled =
      options.read !== undefined || (devices !== undefined && devices !== '' && devices !== 'void');
  }

  async sample(): Promise<void> {
    if (!this.#enabled) return;
    const text = await this.#read();
    const readings = text === undefined ? [] : parseNvidiaSmi(text);
    if (readings.length === 0) {
      if (this.#samples === 0) this.#enabled = false; // no GPU to read: stop asking
      return;
    }
    this.#samples++;
    this.#utilisationSum += readings.reduce((sum, r) => sum + r.utilisationPercent, 0) / readings.length;
    this.#peakMemoryMiB = Math.max(
      this.#peakMemoryMiB,
      readings.reduce((sum, r) => sum + r.memoryMiB, 0),
    );
  }

  /** What was seen so far; empty before the first successful sample. */
  usage(): { gpuUtilisationPercent?: number; gpuMemoryMiB?: number } {
    if (this.#samples === 0) return {};
    return {
      gpuUtilisationPercent: Math.round((this.#utilisationSum / this.#samples) * 10) / 10,
      gpuMemoryMiB: this.#peakMemoryMiB,
    };
  }
}
