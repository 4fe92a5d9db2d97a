import type { TestProject } from 'vitest/node';
import { CitusCluster } from './citus-cluster.js';
import { findTestServices } from './services-discovery.js';

/**
 * `npm run test:citus`: the integration suites that apply, on a local Citus cluster this run
 * starts (a coordinator and two workers, see CitusCluster); each suite makes its database on
 * every node and migrates it, which distributes the schema. Redis is found as for `npm test`.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await findTestServices();
  const cluster = await CitusCluster.start();
  console.log(
    `Citus cluster: coordinator on ${cluster.coordinator.port}, workers on ${cluster.workers.map((worker) => worker.port).join(', ')}`,
  );
  project.provide('databaseServerUrl', cluster.coordinator.url());
  project.provide('templateDatabase', '');
  project.provide('redisUrl', services.redisUrl);
  project.provide('citusNodes', cluster.nodes);
  return async () => {
    await cluster.stop();
    await services.stop();
  };
}
