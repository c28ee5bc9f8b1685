/**
 * A complete configuration as the Function App gets it in Azure: managed identity for Cosmos DB and
 * Communication Services (no keys), and a signing key of the form the app requires.
 */
export const SETTINGS_IN_AZURE: Record<string, string> = {
  COSMOS_ENDPOINT: 'https://gallery-accounts.documents.azure.com:443/',
  COSMOS_DATABASE: 'accounts',
  COMMUNICATION_SERVICES_ENDPOINT: 'https://gallery-mail.europe.communication.azure.com',
  EMAIL_SENDER_ADDRESS: 'DoNotReply@gallery.example',
  MICROSOFT_CLIENT_ID: '00000000-1111-2222-3333-444444444444',
  // What `openssl rand -base64 48` prints.
  SESSION_SIGNING_KEY: 'q3Gx2yC7m0sLJv1pQe8RZ4kW9nTfB6hUaD5oYcEiXwVr1NsKgHzMbPjLuOtAlIdF',
  PUBLIC_BASE_URL: 'https://gallery.example',
  TRUSTED_PUBLISHING_AUDIENCE: 'https://gallery.example',
  GITLAB_OIDC_ISSUER: 'https://gitlab.com',
};
