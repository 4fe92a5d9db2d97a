import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { MAX_USER_ID } from '#libs/users';
import { Optional, QueryInteger } from '#libs/http';
import { IsInt, Max, Min } from 'class-validator';

export class ReportMonthQueryDto {
  @ApiProperty({ type: 'integer', minimum: 1970, maximum: 9999, example: 2026 })
  @QueryInteger()
  @IsInt()
  @Min(1970)
  @Max(9999)
  year: number;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: 12, example: 11 })
  @QueryInteger()
  @IsInt()
  @Min(1)
  @Max(12)
  month: number;
}

export class ReportQueryDto extends ReportMonthQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_USER_ID, example: 1000, description: 'Only this user’s changes' })
  @Optional()
  @QueryInteger()
  @IsInt()
  @Min(1)
  @Max(MAX_USER_ID)
  user_id?: number;
}

@ApiSchema({ name: 'ReportLink' })
export class ReportLinkDto {
  @ApiProperty({
    description: 'Link to the CSV; any instance serves it until it expires',
    example: 'http://localhost:3000/reports/segment-history/eyJ5IjoyMDI2LCJtIjoxMX0.c2lnbmF0dXJl',
  })
  report_url: string;
}
