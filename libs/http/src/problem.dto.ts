import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

@ApiSchema({ name: 'ProblemFieldError' })
export class ProblemFieldErrorDto {
  @ApiProperty({ description: 'Path of the bad field or item in the request', example: 'add[1]' })
  field: string;

  @ApiProperty({ example: 'segment "AVITO_UNKNOWN" does not exist' })
  message: string;
}

/** RFC 9457 problem details. */
@ApiSchema({ name: 'Problem' })
export class ProblemDto {
  @ApiProperty({
    description: 'Problem type: `/problems/<kind>`, or `about:blank` for plain HTTP errors',
    example: '/problems/validation-error',
  })
  type: string;

  @ApiProperty({ example: 'The request is invalid' })
  title: string;

  @ApiProperty({ type: 'integer', example: 400 })
  status: number;

  @ApiProperty({ example: '1 invalid field: add[0].ttl_seconds' })
  detail: string;

  @ApiProperty({ description: 'Path of the request', example: '/users/1000/segments' })
  instance: string;

  @ApiProperty({
    description: 'Id of the request, also sent as the X-Request-Id header and written to the logs',
    example: 'c1c9e3c4-5d0e-4a57-9d0b-6a1b0f6f2f3a',
  })
  request_id: string;

  @ApiPropertyOptional({ type: [ProblemFieldErrorDto], description: 'Every bad field or item, for validation failures' })
  errors?: ProblemFieldErrorDto[];
}
