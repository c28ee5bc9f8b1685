import { z } from 'zod';
import { ok, operation } from '../lib/http/operation';
import { missingStorage } from '../lib/shared/storage/cosmos';

const unavailable = (detail: string) => ({ status: 503, body: { status: 'unavailable', detail } });

operation('health', {
  method: 'GET',
  route: 'health',
  auth: 'none',
  summary: 'Whether the service can serve: its database and every container exist and answer',
  description: 'A deployment whose infrastructure is incomplete fails its first probe here, naming what is missing.',
  responses: {
    200: { description: 'Ready', schema: z.object({ status: z.literal('ok') }) },
    503: {
      description: 'Not ready: what is missing, or what did not answer',
      schema: z.object({ status: z.literal('unavailable'), detail: z.string() }),
    },
  },
  problems: [],
  handle: async ({ log }) => {
    const missing = await missingStorage();
    if (!missing) return ok({ status: 'ok' });
    log.warn(`Health check: ${missing}`);
    return unavailable(missing);
  },
});
