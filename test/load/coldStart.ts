/**
 * A cold start, for `npm run bench` to time from outside as a whole process: `load` loads the function app
 * as the Functions worker does (the files package.json's `main` names, with `@azure/functions-core`
 * provided) and stops; `me TOKEN` then runs the appStart hooks and answers one `GET /api/me` as the worker
 * would invoke it, which loads the Cosmos DB SDK and makes the first point read, and prints its status.
 */
import { appStartHooks, registeredFunctions } from '../../local/functionsCore';
import { httpTriggerData, invokeFunction, loadEntryPoints, projectRoot } from '../../local/worker';

async function main(): Promise<void> {
  const [mode, token] = process.argv.slice(2);
  loadEntryPoints(projectRoot());
  if (mode === 'load') return;
  for (const hook of appStartHooks) await hook({ hookData: {}, appHookData: {} });
  const getMe = registeredFunctions.find((fn) => fn.name === 'getMe')!;
  const data = httpTriggerData({
    method: 'GET',
    url: 'https://gallery-accounts.azurewebsites.net/api/me',
    headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.7' },
    query: new URLSearchParams(),
    params: {},
  });
  const answer = await invokeFunction(getMe, data, () => undefined);
  process.stdout.write(String(answer?.http?.statusCode));
  // The SDK keeps its connection alive; the measurement ends with the answer.
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
