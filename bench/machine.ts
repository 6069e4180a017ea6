// A description of the machine, printed with the results: numbers mean little without it.
import { readFileSync } from 'node:fs';
import { loadavg, release } from 'node:os';
import { run } from './proc.ts';

export { describeMachine, type Machine };

interface Machine {
  cpus: string;
  cpuModel: string;
  memory: string;
  disk: string;
  kernel: string;
  node: string;
  nginx: string;
  /** Other work on the machine skews every figure; this shows whether there was any. */
  loadAverage: string;
  date: string;
}

async function describeMachine(benchDir: string): Promise<Machine> {
  return {
    cpus: (await run('nproc', [])).stdout.trim(),
    cpuModel: cpuModel(),
    memory: `${(memTotalKiB() / 1024 ** 2).toFixed(1)} GiB`,
    disk: await describeDisk(benchDir),
    kernel: `Linux ${release()}`,
    node: process.version,
    nginx: (await run('nginx', ['-v'])).stderr.trim().replace(/^nginx version: /, ''),
    loadAverage: loadavg()
      .map((load) => load.toFixed(2))
      .join(', '),
    date: new Date().toISOString(),
  };
}

function cpuModel(): string {
  const line = readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('model name'));
  return line?.split(':')[1]?.trim() ?? 'unknown';
}

function memTotalKiB(): number {
  const match = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return Number(match?.[1] ?? 0);
}

/** `df` of the bench dir: device, file system type, size and free space. */
async function describeDisk(dir: string): Promise<string> {
  const { stdout } = await run('df', ['-hT', dir]);
  const [device, fsType, size, , avail, , mount] = (stdout.trim().split('\n')[1] ?? '').split(/\s+/);
  return `${device} (${fsType}, ${size}, ${avail} free), mounted on ${mount}`;
}
