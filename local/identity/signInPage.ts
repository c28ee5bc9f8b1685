/**
 * The development identity's pages. Its sign-in page: instead of a password, the developer says who signs in and
 * how (a personal or a work account, with or without two-step sign-in), which is what decides the tokens. Then
 * the step of a sign-out, where it ends without a redirect, and errors.
 */
import { GUID, PERSONAL_ACCOUNT_TENANT } from './microsoftTokens';

export interface SignInChoice {
  email: string;
  name?: string;
  accountType: 'personal' | 'work';
  twoStep: boolean;
  /** Work accounts: the tenant vouches for the address (the optional claim `xms_edov`). */
  emailVerified: boolean;
}

export interface SignInContext {
  /** The tenant of the authority the app signs in through: common, organizations, consumers or a tenant id. */
  tenant: string;
  /** The app asked for two-step verification (`acr_values=urn:microsoft:policies:mfa`). */
  mfaRequested: boolean;
  loginHint?: string;
}

/** Which kinds of account the authority's tenant admits, as on Microsoft's own sign-in page. */
function admitted(tenant: string): Array<SignInChoice['accountType']> {
  if (tenant === 'consumers' || tenant === PERSONAL_ACCOUNT_TENANT) return ['personal'];
  if (tenant === 'organizations' || GUID.test(tenant)) return ['work'];
  return ['personal', 'work'];
}

const escape = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #1b1b1b; }
  h1 { font-size: 1.4rem; } fieldset { border: 1px solid #ccc; border-radius: 4px; margin: 0 0 1rem; }
  label { display: block; margin: .4rem 0; } input[type=email], input[type=text] { width: 100%; padding: .35rem; box-sizing: border-box; }
  .note { color: #555; font-size: .9rem; } .error { color: #a4262c; } button { padding: .45rem 1.2rem; margin-right: .5rem; }
</style></head>
<body>${body}</body></html>`;
}

export const signInPage = {
  form(context: SignInContext, error?: string): string {
    const kinds = admitted(context.tenant);
    const kindChoice = kinds
      .map(
        (kind, i) =>
          `<label><input type="radio" name="accountType" value="${kind}"${i === 0 ? ' checked' : ''}> ${
            kind === 'personal' ? 'Personal Microsoft account (outlook.com, hotmail.com, …)' : 'Work or school account (Microsoft Entra ID)'
          }</label>`,
      )
      .join('\n');
    return page(
      'Sign in: development identity',
      `<h1>Sign in</h1>
<p class="note">Development identity: it stands in for the Microsoft identity platform and issues tokens shaped like
Microsoft's. No password; say who signs in.</p>
${error ? `<p class="error" role="alert">${escape(error)}</p>` : ''}
<form method="post">
  <label>Email address <input type="email" name="email" required autofocus value="${escape(context.loginHint ?? '')}"></label>
  <label>Name <input type="text" name="name" placeholder="from the email address if left empty"></label>
  <fieldset><legend>Account</legend>
  ${kindChoice}
  </fieldset>
  <fieldset><legend>Two-step sign-in</legend>
  <label><input type="radio" name="twoStep" value="on" checked> Completed (a second factor was used)</label>
  <label><input type="radio" name="twoStep" value="off"> Not used (the account has no two-step verification)</label>
  <p class="note">${
    context.mfaRequested
      ? 'The app asked for two-step verification (acr_values=urn:microsoft:policies:mfa): a personal account\'s ID token shows it in <code>acr</code>.'
      : 'The app did not ask for two-step verification (acr_values): a personal account\'s ID token will not show it, and the account service refuses it (mfa_required).'
  } A work account's ID token never shows it; its v1.0 access tokens do, in <code>amr</code>.</p>
  </fieldset>
  ${kinds.includes('work') ? '<label><input type="checkbox" name="emailVerified" value="true"> Work account: the tenant vouches for the email address (<code>xms_edov</code>)</label>' : ''}
  <p><button type="submit" name="action" value="sign-in">Sign in</button><button type="submit" name="action" value="cancel" formnovalidate>Cancel</button></p>
</form>`,
    );
  },

  read(form: URLSearchParams, context: SignInContext): SignInChoice | { invalid: string } | { cancelled: true } {
    if (form.get('action') === 'cancel') return { cancelled: true };
    const email = (form.get('email') ?? '').trim();
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) || email.length > 256) return { invalid: 'Enter an email address.' };
    const accountType = form.get('accountType');
    if ((accountType !== 'personal' && accountType !== 'work') || !admitted(context.tenant).includes(accountType)) {
      return { invalid: 'Choose a kind of account this app signs in.' };
    }
    const name = (form.get('name') ?? '').trim().slice(0, 256) || undefined;
    return { email, name, accountType, twoStep: form.get('twoStep') !== 'off', emailVerified: accountType === 'work' && form.get('emailVerified') === 'true' };
  },

  /**
   * The step between a logout request and its end: oidc-provider's form (id `op.logoutForm`), submitted at once
   * with `logout=yes`, which ends the whole sign-in session as Microsoft's sign-out does.
   */
  signingOut(form: string): string {
    return page(
      'Signing out: development identity',
      `<h1>Signing out</h1>
${form}
<input type="hidden" form="op.logoutForm" name="logout" value="yes">
<noscript><button type="submit" form="op.logoutForm">Sign out</button></noscript>
<script>document.getElementById('op.logoutForm').submit();</script>`,
    );
  },

  /** Where a sign-out without a post_logout_redirect_uri ends: Microsoft's words. */
  signedOut(): string {
    return page(
      'Signed out: development identity',
      '<h1>You signed out of your account</h1><p>It\'s a good idea to close all browser windows.</p>',
    );
  },

  error(out: Record<string, string>, action: 'Sign-in' | 'Sign-out'): string {
    return page(
      `${action} error: development identity`,
      `<h1>${action} failed</h1><p class="error" role="alert">${escape(out.error ?? 'error')}: ${escape(out.error_description ?? '')}</p>`,
    );
  },
};
