import { describe, expect, it } from 'vitest';
import { addChunkUsage } from '../../src/core/observability/resource-usage.js';
import { GpuSampler, parseNvidiaSmi } from '../../src/worker/gpu.js';

const AT = new Date('2026-11-23T12:00:00Z');

describe('GPU usage (worker runtime)', () => {
  it('parses nvidia-smi CSV, one line per GPU, skipping what is not two numbers', () => {
    expect(parseNvidiaSmi('87, 14560\n12, 2048\n[N/A], [N/A]\n\n')).toEqual([
      { utilisationPercent: 87, memoryMiB: 14560 },
      { utilisationPercent: 12, memoryMiB: 2048 },
    ]);
  });

  it('averages utilisation over samples and GPUs, and keeps the largest total memory', async () => {
    const outputs = ['80, 1000\n40, 3000\n', '100, 6000\n100, 6000\n'];
    const sampler = new GpuSampler({ read: async () => outputs.shift() });
    expect(sampler.usage()).toEqual({});
    await sampler.sample(); // mean 60, memory 4,000
    await sampler.sample(); // mean 100, memory 12,000
    expect(sampler.usage()).toEqual({ gpuUtilisationPercent: 80, gpuMemoryMiB: 12_000 });
  });

  it('samples nothing without a GPU (no NVIDIA_VISIBLE_DEVICES), and stops asking when nvidia-smi answers nothing', async () => {
    let reads = 0;
    const none = new GpuSampler({ env: {} });
    await none.sample();
    expect(none.usage()).toEqual({});
    const broken = new GpuSampler({
      read: async () => {
        reads++;
        return undefined;
      },
    });
    await broken.sample();
    await broken.sample();
    expect(reads).toBe(1);
    expect(broken.usage()).toEqual({});
  });

  it('adds chunks to an attempt: CPU summed, memory the largest container, GPU utilisation the mean over chunks', () => {
    const first = addChunkUsage(
      undefined,
      [
        { cpuSeconds: 10, peakRssBytes: 100 * 1_048_576, gpuUtilisationPercent: 90, gpuMemoryMiB: 8_000 },
        { cpuSeconds: 5.5, peakRssBytes: 300 * 1_048_576, gpuUtilisationPercent: 60, gpuMemoryMiB: 9_000 },
      ],
      AT,
    );
    expect(first).toEqual({
      cpuSeconds: 15.5,
      peakMemoryMiB: 300,
      gpuUtilisationPercent: 75,
      gpuMemoryMiB: 9_000,
      sampledAt: AT.toISOString(),
    });
    // A third chunk later: the mean is over all three chunks, not over the two writes.
    const second = addChunkUsage(
      first,
      [{ cpuSeconds: 1, peakRssBytes: 0, gpuUtilisationPercent: 30 }],
      AT,
      2,
    );
    expect(second).toMatchObject({
      cpuSeconds: 16.5,
      peakMemoryMiB: 300,
      gpuUtilisationPercent: 60,
      gpuMemoryMiB: 9_000,
    });
    // Chunks without a GPU leave GPU fields out.
    expect(addChunkUsage(undefined, [{ cpuSeconds: 1, peakRssBytes: 1_048_576 }], AT)).toEqual({
      cpuSeconds: 1,
      peakMemoryMiB: 1,
      sampledAt: AT.toISOString(),
    });
  });
});
