import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker module `name` (a path without extension, relative to the
 * module at `from`: MODULE_ROOT for the package's own workers, which holds in
 * the CLI's bundle too). Built, that is a .js file; under tsx
 * (the tests) the sources are .ts files, and a worker does not inherit tsx:
 * it is registered in the worker first. `options`: resourceLimits, workerData.
 */
export function spawnWorker(from: string, name: string, options: Pick<WorkerOptions, 'resourceLimits' | 'workerData'> = {}): Worker {
  if (from.endsWith('.ts')) {
    const url = new URL(`./${name}.ts`, from).href;
    return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); });`, { ...options, eval: true });
  }
  return new Worker(new URL(`./${name}.js`, from), options);
}
