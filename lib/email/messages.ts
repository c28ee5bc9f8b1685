import { settings } from '../settings';
import type { EmailMessage } from './sender';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Links point at the frontend, always from PUBLIC_BASE_URL: a request's Host header is the caller's to forge. */
export function frontendLink(path: string, token: string): string {
  return `${settings().PUBLIC_BASE_URL}${path}?token=${encodeURIComponent(token)}`;
}

function compose(to: string, subject: string, paragraphs: string[], action?: { label: string; url: string }): EmailMessage {
  const plainText = [...paragraphs, ...(action ? [`${action.label}: ${action.url}`] : [])].join('\n\n') + '\n';
  const html =
    paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('') +
    (action ? `<p><a href="${escapeHtml(action.url)}">${escapeHtml(action.label)}</a></p>` : '');
  return { to, subject, plainText, html };
}

export function confirmEmailMessage(username: string, emailAddress: string, token: string): EmailMessage {
  return compose(
    emailAddress,
    'Confirm your email address',
    [
      `Hello ${username},`,
      'Please confirm this email address for your package gallery account. Until you do, you cannot create organizations or join them.',
      'If you did not create this account, you can ignore this message.',
    ],
    { label: 'Confirm your email address', url: frontendLink('/account/confirm-email', token) },
  );
}
