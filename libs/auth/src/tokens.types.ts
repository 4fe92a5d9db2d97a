import type { Scope } from './scopes.js';

export interface NewApiToken {
  name: string;
  scopes: Scope[];
  expiresAt?: Date;
}

/** Who a verified token says the caller is. */
export interface Principal {
  /** Null for the bootstrap token of the environment. */
  tokenId: string | null;
  name: string;
  scopes: readonly Scope[];
}

/** The name the bootstrap token (AUTH_BOOTSTRAP_TOKEN) acts under in history. */
export const BOOTSTRAP_ACTOR = 'bootstrap';
