import { app } from '@azure/functions';
import { z } from 'zod';
import { ok, operation } from '../lib/http/operation';

app.http(
  'health',
  operation({
    name: 'health',
    method: 'GET',
    route: 'health',
    auth: 'none',
    summary: 'Whether the service can serve',
    responses: { 200: { description: 'Ready', schema: z.object({ status: z.literal('ok') }) } },
    problems: [],
    handle: async () => ok({ status: 'ok' }),
  }),
);
