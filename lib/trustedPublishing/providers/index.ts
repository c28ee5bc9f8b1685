import { entra } from './entra';
import { github } from './github';
import { gitlab } from './gitlab';
import type { TrustedPublishingProvider } from './provider';

export type { TrustedPublishingProvider } from './provider';

/** The providers whose tokens the exchange may take: adding one is its file and one line here. */
export const PROVIDERS: readonly TrustedPublishingProvider[] = [github, gitlab, entra];

/** The contract's default `provider`, and what every policy stored before providers trusts. */
export const DEFAULT_PROVIDER: TrustedPublishingProvider = github;

/** The providers whose settings are set. */
export const enabledProviders = () => PROVIDERS.filter((provider) => provider.enabled());

/** The provider of a stored policy; providers are only ever added, so a stored name is always one of them. */
export function providerNamed(name: string): TrustedPublishingProvider {
  const provider = PROVIDERS.find((candidate) => candidate.name === name);
  if (!provider) throw new Error(`No trusted publishing provider is named '${name}'.`);
  return provider;
}
