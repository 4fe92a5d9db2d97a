import { UseInterceptors, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { DomainError } from '#libs/common';
import { catchError, type Observable } from 'rxjs';
import { ProblemException } from './problem.js';
import { toProblem, type SlugListNames } from './problem.filter.js';

class SlugListNamesInterceptor implements NestInterceptor {
  constructor(private readonly names: SlugListNames) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((error: unknown) => {
        throw error instanceof DomainError ? new ProblemException(toProblem(error, this.names)) : error;
      }),
    );
  }
}

/**
 * Names the slug lists of a membership change as this route's request calls them
 * (`add_segments[1]` in the original API), in the errors of its problem responses.
 */
export function SlugListFields(names: SlugListNames): MethodDecorator {
  return UseInterceptors(new SlugListNamesInterceptor(names));
}
