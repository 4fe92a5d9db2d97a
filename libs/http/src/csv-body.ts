import { applyDecorators, Injectable, type PipeTransform } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { Readable } from 'node:stream';
import { ProblemException } from './problem.js';

/** Route config key of the routes that take a `text/csv` body (as a stream). */
export const CSV_BODY = 'segmentation:csvBody';

/** The route takes a `text/csv` body, handed to the handler as a stream (never buffered). */
export function AcceptsCsvBody(): MethodDecorator {
  return applyDecorators(RouteConfig({ [CSV_BODY]: true }));
}

/** The body of an @AcceptsCsvBody route: the stream of a `text/csv` body, else a 415. */
@Injectable()
export class CsvBodyPipe implements PipeTransform<unknown, Readable> {
  transform(value: unknown): Readable {
    if (value instanceof Readable) return value;
    throw new ProblemException({ type: 'about:blank', title: 'Unsupported Media Type', status: 415, detail: 'Send the file as text/csv' });
  }
}
