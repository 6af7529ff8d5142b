import { Worker } from "node:worker_threads";

/**
 * A worker thread running the module `name` beside `callerUrl` (the caller's import.meta.url):
 * the compiled .js; or, when the caller runs as .ts source (tests, tsx), a tiny module that
 * registers tsx's loader in the worker and then imports the .ts.
 */
export function startWorker(callerUrl: string, name: string): Worker {
  if (!callerUrl.endsWith(".ts")) return new Worker(new URL(`./${name}.js`, callerUrl));
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(new URL(`./${name}.ts`, callerUrl).href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`));
}
