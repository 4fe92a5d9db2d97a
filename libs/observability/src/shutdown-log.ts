import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';

/** Logs both ends of a graceful shutdown (SIGTERM), so operators can see it happen and finish. */
@Injectable()
export class ShutdownLog implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Shutdown');

  beforeApplicationShutdown(signal?: string): void {
    this.logger.log(`Shutting down${signal ? ` on ${signal}` : ''}: finishing in-flight work`);
  }

  onApplicationShutdown(): void {
    this.logger.log('Shutdown complete');
  }
}
