import { ApiProperty, ApiSchema } from '@nestjs/swagger';

@ApiSchema({ name: 'SegmentMembersChange' })
export class SegmentMembersChangeDto {
  @ApiProperty({ type: 'integer', description: 'Memberships that came (a re-add that only sets the expiry is not one)', example: 2 })
  added: number;

  @ApiProperty({ type: 'integer', description: 'Memberships that went', example: 1 })
  removed: number;
}
