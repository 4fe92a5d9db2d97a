import { createClient, createConfig, type Client, type Config } from './generated/client/index.js';

export * from './generated/sdk.gen.js';
export type * from './generated/types.gen.js';
export type { Client } from './generated/client/index.js';

/**
 * A client of the segmentation service at `baseUrl` (e.g. http://segments.internal:3000) that
 * sends `token` (an API token, or a function returning one, e.g. read from a secret store) as
 * the bearer token of every operation that needs one. Pass it as `client` to the operation
 * functions: `getUserSegments({ client, path: { user_id: 1000 } })`.
 */
export function createSegmentationClient(
  baseUrl: string,
  token: string | (() => string | Promise<string>),
  options: Omit<Config, 'baseUrl' | 'auth'> = {},
): Client {
  return createClient(createConfig({ ...options, baseUrl, auth: token }));
}
