import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const LOCAL_CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CONTAINER_IMAGE = 'ghcr.io/browserless/chromium:v2.24.3';

export interface TestBrowser {
  browser: Browser;
  /** The address under which the browser reaches a server listening on this machine's `port`. */
  urlOf: (port: number) => string;
  close: () => Promise<void>;
}

/**
 * A headless Chromium: the local one (Debian's `chromium`, or CHROMIUM_PATH), else one in a
 * container started by testcontainers, which reaches this machine's ports through the host
 * port forwarding of testcontainers.
 */
export async function launchBrowser(ports: number[]): Promise<TestBrowser> {
  if (existsSync(LOCAL_CHROMIUM)) {
    const browser = await chromium.launch({
      executablePath: LOCAL_CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    return { browser, urlOf: (port) => `http://127.0.0.1:${port}`, close: () => browser.close() };
  }
  try {
    const { GenericContainer, TestContainers, Wait } = await import('testcontainers');
    await TestContainers.exposeHostPorts(...ports);
    const container = await new GenericContainer(CONTAINER_IMAGE).withExposedPorts(3000).withWaitStrategy(Wait.forListeningPorts()).start();
    const browser = await chromium.connectOverCDP(`ws://${container.getHost()}:${container.getMappedPort(3000)}`);
    return {
      browser,
      urlOf: (port) => `http://host.testcontainers.internal:${port}`,
      close: async () => {
        await browser.close();
        await container.stop();
      },
    };
  } catch (error) {
    throw new Error(
      `No Chromium for the Swagger UI test: install Debian's chromium package (apt-get install -y chromium), set CHROMIUM_PATH, ` +
        `or run Docker so that testcontainers can start ${CONTAINER_IMAGE} (${(error as Error).message})`,
      { cause: error },
    );
  }
}
