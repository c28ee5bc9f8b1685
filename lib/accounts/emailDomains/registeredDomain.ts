/**
 * The domain someone registered at a registry for an address (`ada@mail.example.co.uk` → `example.co.uk`):
 * what RDAP is asked about, and what lapses. The public suffix list decides where the registry's part ends
 * (`tldts`, loaded on first use: the list is about 140 KB); only its ICANN section counts, since RDAP answers
 * for names registries hold, not for names under a private suffix such as `github.io`.
 */
import { domainToASCII } from 'node:url';

/**
 * The registered domains of the big mail providers: a lapse of theirs is no real risk, and asking about
 * them would spend the registries' patience on the domains most addresses share.
 */
export const BIG_MAIL_PROVIDERS: ReadonlySet<string> = new Set([
  // Google
  'gmail.com',
  'googlemail.com',
  // Microsoft
  'outlook.com',
  'hotmail.com',
  'hotmail.co.uk',
  'hotmail.fr',
  'live.com',
  'msn.com',
  // Yahoo and AOL
  'yahoo.com',
  'yahoo.co.uk',
  'yahoo.co.jp',
  'ymail.com',
  'aol.com',
  // Apple
  'icloud.com',
  'me.com',
  'mac.com',
  // Proton
  'proton.me',
  'protonmail.com',
  'pm.me',
  // Others with tens of millions of mailboxes
  'gmx.com',
  'gmx.net',
  'gmx.de',
  'web.de',
  'mail.com',
  'yandex.ru',
  'yandex.com',
  'mail.ru',
  'qq.com',
  '163.com',
  '126.com',
  'naver.com',
  'zoho.com',
  'fastmail.com',
  'tutanota.com',
  'tuta.io',
  'hey.com',
]);

let tldts: typeof import('tldts') | undefined;

/** The registered domain of an address, in A-labels, lower case; undefined for an IP literal or a bare public suffix. */
export function registeredDomainOf(emailAddress: string): string | undefined {
  const at = emailAddress.lastIndexOf('@');
  if (at === -1) return undefined;
  const host = domainToASCII(emailAddress.slice(at + 1).replace(/\.$/, ''));
  if (!host) return undefined;
  tldts ??= require('tldts') as typeof import('tldts');
  return tldts.getDomain(host, { allowPrivateDomains: false }) ?? undefined;
}

/** The registered domain RDAP is to be asked about for this address, or undefined: none, or a big provider's. */
export function domainToCheck(emailAddress: string): string | undefined {
  const domain = registeredDomainOf(emailAddress);
  return domain && !BIG_MAIL_PROVIDERS.has(domain) ? domain : undefined;
}
