import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectMetric, makeCounterProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import type { FastifyInstance } from 'fastify';
import type { Counter, Histogram } from 'prom-client';

export const HTTP_DURATION = 'http_request_duration_seconds';
export const HTTP_REQUESTS = 'http_requests_total';
const LABELS = ['method', 'route', 'status_code'];

export const httpMetricProviders = [
  makeHistogramProvider({
    name: HTTP_DURATION,
    help: 'HTTP request duration by method, route template and status',
    labelNames: LABELS,
    // Fine below 10 ms, where the hot read path lives.
    buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }),
  makeCounterProvider({ name: HTTP_REQUESTS, help: 'HTTP requests by method, route template and status', labelNames: LABELS }),
];

/** Times every request in a Fastify onResponse hook, labelled by the route template (never the raw path). */
@Injectable()
export class HttpMetrics implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @InjectMetric(HTTP_DURATION) private readonly duration: Histogram,
    @InjectMetric(HTTP_REQUESTS) private readonly requests: Counter,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    // A callback hook, not an async one: no promise per request on the hot paths.
    fastify?.addHook('onResponse', (request, reply, done) => {
      const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) };
      this.duration.observe(labels, reply.elapsedTime / 1000);
      this.requests.inc(labels);
      done();
    });
  }
}
