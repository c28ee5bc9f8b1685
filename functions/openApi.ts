import { buildOpenApiDocument } from '../lib/http/openapi';
import { ok, operation } from '../lib/http/operation';

operation('openApi', {
  method: 'GET',
  route: 'openapi.json',
  auth: 'none',
  summary: 'This document: OpenAPI 3.1, built from the registered operations and their schemas',
  responses: { 200: { description: 'The OpenAPI document' } },
  problems: [],
  handle: async () => ok(buildOpenApiDocument('/api')),
});
