import { spawn } from 'node:child_process';

/** Starts a process running `npm start`'s compiled entry point with `env`, and resolves with its base URL. */
export async function startServiceProcess(entry: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [entry], { env: { ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  // Read what it prints for as long as it runs, so a full pipe never stalls it.
  child.stderr!.resume();
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const started = /Account service on (http:\/\/\S+)\/api /.exec(output);
      if (started) resolve(started[1]);
    });
    child.once('exit', (code) => reject(new Error(`the service exited (${code}) before serving: ${output}`)));
  });
  return { url, process: child };
}
