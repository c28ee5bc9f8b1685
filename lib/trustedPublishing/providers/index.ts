import { github } from './github';
import type { TrustedPublishingProvider } from './provider';

export type { TrustedPublishingProvider } from './provider';

/**
 * The providers whose tokens the exchange takes, by `name`: adding one is its file and one line here.
 * (A provider's types are its own; here each is seen through the interface's general form.)
 */
export const PROVIDERS: readonly TrustedPublishingProvider[] = [github];

/** The providers whose settings are set. */
export const enabledProviders = () => PROVIDERS.filter((provider) => provider.enabled());
