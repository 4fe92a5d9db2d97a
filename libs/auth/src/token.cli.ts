import { loadConfig } from '#libs/config';
import { dataSourceOptions, ensureDatabase } from '#libs/database';
import { DataSource } from 'typeorm';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ApiToken } from './api-token.entity.js';
import { isScope } from './scopes.js';
import { TokensRepository } from './tokens.repository.js';
import { TokensService } from './tokens.service.js';

const USAGE = `Usage:
  npm run token -- create --name <name> --scopes <read|write|admin>[,…] [--expires-at <ISO instant>]
  npm run token -- list
  npm run token -- revoke <id>
Works on the database of DATABASE_URL directly (for the first token, or when no admin token is at hand).`;

/** `npm run token`: create, list and revoke API tokens directly in the database of `env`'s DATABASE_URL. */
export async function tokenCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, scopes: { type: 'string' }, 'expires-at': { type: 'string' }, help: { type: 'boolean' } },
  });
  const [command, id] = positionals;
  if (values.help || !command) return void console.log(USAGE);

  const config = loadConfig(env);
  await ensureDatabase(config.DATABASE_URL);
  const dataSource = await new DataSource({
    ...dataSourceOptions({ ...config, DATABASE_POOL_SIZE: 1 }),
    entities: [ApiToken],
  }).initialize();
  const tokens = new TokensService(new TokensRepository(dataSource, dataSource.getRepository(ApiToken)), config);
  try {
    if (command === 'create') {
      const scopes = (values.scopes ?? '').split(',').filter(Boolean);
      const expiresAt = values['expires-at'] === undefined ? undefined : new Date(values['expires-at']);
      if (!values.name || !/^[\x20-\x7e]{1,128}$/.test(values.name)) throw new UsageError('--name: 1-128 printable ASCII characters');
      if (scopes.length === 0 || !scopes.every(isScope)) throw new UsageError('--scopes: a comma-separated list of read, write, admin');
      if (expiresAt && !(expiresAt.getTime() > Date.now())) throw new UsageError('--expires-at: an ISO 8601 instant in the future');
      const { token, secret } = await tokens.create({ name: values.name, scopes: [...new Set(scopes)], expiresAt });
      console.log(JSON.stringify({ id: token.id, name: token.name, scopes: token.scopes, expires_at: token.expiresAt }));
      console.log(`Token (shown only now; send it as "Authorization: Bearer <token>"):\n${secret}`);
    } else if (command === 'list') {
      for (const token of await tokens.list(1000)) console.log(JSON.stringify(token));
    } else if (command === 'revoke' && id) {
      await tokens.revoke(id);
      console.log(`Revoked ${id}`);
    } else {
      throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    await dataSource.destroy();
  }
}

export class UsageError extends Error {}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  tokenCli(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof UsageError ? `${error.message}\n\n${USAGE}` : (error as Error).message);
    process.exit(2);
  });
}
