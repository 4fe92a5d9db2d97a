import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const composeText = read('docker-compose.yml');
const compose = parse(composeText, { merge: true }) as {
  services: Record<
    string,
    {
      image?: string;
      build?: unknown;
      pull_policy?: string;
      ports?: string[];
      profiles?: string[];
      healthcheck?: unknown;
      environment?: Record<string, string>;
      command?: string[];
      depends_on?: Record<string, { condition: string }>;
    }
  >;
};

/** `docker compose` (v2) or Debian's `docker-compose`, whichever this machine has; undefined when neither. */
function composeCli(): string[] | undefined {
  for (const command of [['docker', 'compose'], ['docker-compose']]) {
    try {
      execFileSync(command[0]!, [...command.slice(1), 'version'], { stdio: 'ignore' });
      return command;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** The README's part about the compose stack: from the Run-it command to the next section. */
const readmeCompose = (() => {
  const readme = read('README.md');
  const start = readme.indexOf('**Run it**');
  const end = readme.indexOf('\n## ', start);
  if (start === -1 || end === -1) throw new Error('README.md has no "**Run it**" part followed by a section');
  return readme.slice(start, end);
})();

/** What can be checked of docker-compose.yml without a Docker engine (`npm run test:compose` checks the rest on one). */
describe('compose file', () => {
  const cli = composeCli();

  it.skipIf(!cli)('parses and validates (docker compose config)', () => {
    execFileSync(cli![0]!, [...cli!.slice(1), '-f', 'docker-compose.yml', 'config', '--quiet'], { cwd: new URL('..', import.meta.url) });
  });

  it('builds the service image once per stack and never pulls it from a registry', () => {
    const local = Object.entries(compose.services).filter(([, service]) => service.image === 'segmentation-service:local');
    expect(local.map(([name]) => name).sort()).toEqual(['api', 'api-citus', 'worker', 'worker-citus']);
    for (const [name, service] of local) {
      expect(service.pull_policy, name).toBe(service.build !== undefined ? 'build' : 'never');
    }
    // One builder per stack: the plain one (no profile) and the Citus one.
    for (const profile of [undefined, 'citus']) {
      const builders = local.filter(([, service]) => service.build !== undefined && service.profiles?.[0] === profile);
      expect(builders, String(profile)).toHaveLength(1);
    }
  });

  it('runs the same service on a Citus cluster in profile citus: a coordinator, two workers, the service pointed at the coordinator', () => {
    const citus = Object.entries(compose.services).filter(([, service]) => service.profiles?.includes('citus'));
    const nodes = citus.filter(([, service]) => service.image?.startsWith('citusdata/citus:') && service.healthcheck).map(([name]) => name);
    expect(nodes.sort()).toEqual(['citus-coordinator', 'citus-worker-1', 'citus-worker-2']);
    for (const name of ['api-citus', 'worker-citus']) {
      expect(compose.services[name]!.environment?.DATABASE_URL, name).toMatch(/@citus-coordinator:5432\//);
    }
    expect(compose.services['citus-coordinator']!.command!.join(' ')).toMatch(/citus\.recover_2pc_interval=\d+s\b/);
    const setup = compose.services['citus-setup']!.command!.join(' ');
    for (const worker of ['citus-worker-1', 'citus-worker-2']) expect(setup).toContain(`citus_add_node('${worker}', 5432)`);
    expect(compose.services['api-citus']!.depends_on).toHaveProperty('citus-setup.condition', 'service_completed_successfully');
  });

  it('publishes every port the README names, and has every variable the README names', () => {
    const published = Object.values(compose.services).flatMap((service) =>
      (service.ports ?? []).map((mapping) => /:-(\d+)\}:\d+$/.exec(mapping)?.[1] ?? mapping.split(':')[0]),
    );
    const ports = [...readmeCompose.matchAll(/localhost:(\d+)/g)].map((match) => match[1]);
    expect(ports.length).toBeGreaterThanOrEqual(3);
    for (const port of ports) expect(published, `port ${port}`).toContain(port);
    const variables = [...new Set([...readmeCompose.matchAll(/`([A-Z][A-Z0-9_]{2,})`/g)].map((match) => match[1]!))];
    expect(variables.length).toBeGreaterThanOrEqual(8);
    for (const variable of variables) expect(composeText, variable).toContain(variable);
  });

  it('runs the service with the same Node options from the image and from the npm start scripts', () => {
    const options = /^ENV .*\bNODE_OPTIONS=(\S+)/m.exec(read('Dockerfile'))?.[1];
    expect(options).toMatch(/^--max-semi-space-size=\d+$/);
    const scripts = JSON.parse(read('package.json')).scripts as Record<string, string>;
    for (const name of ['start', 'start:api', 'start:worker']) expect(scripts[name], name).toContain(` ${options} dist/apps/`);
  });

  it('has a smoke script that refuses to pass without an engine', () => {
    const script = read('scripts/compose-smoke.sh');
    expect(script).toContain('NO_ENGINE=3');
    expect(JSON.parse(read('package.json')).scripts['test:compose']).toBe('bash scripts/compose-smoke.sh');
  });
});
