import autocannon from 'autocannon';

export interface LoadResult {
  /** Completed requests per second of the run. */
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  seconds: number;
  errors: number;
  non2xx: number;
}

export interface LoadOptions {
  url: string;
  seconds: number;
  connections: number;
  headers?: Record<string, string>;
  /** Builds the request for the next call: random paths (and bodies) per request. */
  next: () => { path: string; method?: 'GET' | 'PATCH' | 'POST'; body?: string };
}

/** Drives HTTP load with autocannon over loopback: bounded duration, the same generator for every target. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    headers: { 'content-type': 'application/json', ...options.headers },
    requests: [
      {
        setupRequest: (request) => {
          const next = options.next();
          return { ...request, path: next.path, method: next.method ?? 'GET', body: next.body };
        },
      },
    ],
  });
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    seconds: result.duration,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

export const randomInt = (max: number) => 1 + Math.floor(Math.random() * max);
