import type { EmailClient } from '@azure/communication-email';
import { settings } from '../settings';

export interface EmailMessage {
  to: string;
  subject: string;
  plainText: string;
  html: string;
  /** When the link the email carries stops working, if it carries one: after that the email is not sent. */
  linkExpiresAt?: string;
}

let client: EmailClient | undefined;

/** Loaded on first send: most requests send no email, and the SDK is heavy to load. */
function emailClient(): EmailClient {
  if (client) return client;
  const { EmailClient: Client } = require('@azure/communication-email') as typeof import('@azure/communication-email');
  const { COMMUNICATION_SERVICES_CONNECTION_STRING: connectionString, COMMUNICATION_SERVICES_ENDPOINT: endpoint } = settings();
  // The outbox retries on its own schedule; an SDK retry would only hold the request open longer.
  const options = { retryOptions: { maxRetries: 0 } };
  if (connectionString) {
    const insecure = /endpoint=http:/i.test(connectionString);
    client = new Client(connectionString, { ...options, allowInsecureConnection: insecure });
  } else {
    const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
    client = new Client(endpoint as string, new DefaultAzureCredential(), options);
  }
  return client;
}

/**
 * Hands the message to Azure Communication Services. `operationId` makes the send idempotent: ACS accepts
 * an operation id once, so a retry after an unclear failure cannot deliver a second copy.
 */
export async function sendEmail(message: EmailMessage, operationId: string): Promise<void> {
  await emailClient().beginSend(
    {
      senderAddress: settings().EMAIL_SENDER_ADDRESS,
      recipients: { to: [{ address: message.to }] },
      content: { subject: message.subject, plainText: message.plainText, html: message.html },
    },
    { operationId },
  );
}
