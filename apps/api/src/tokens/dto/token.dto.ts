import { ApiProperty, ApiSchema, PickType } from '@nestjs/swagger';
import { SCOPES, type ApiToken, type Scope } from '#libs/auth';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsString, Matches } from 'class-validator';
import { FutureInstant } from '../../http/fields.js';

@ApiSchema({ name: 'CreateToken' })
export class CreateTokenDto {
  @ApiProperty({ example: 'checkout-service', maxLength: 128, description: 'Who uses the token; recorded as the actor of its changes' })
  @IsString()
  @Matches(/^[\x20-\x7e]{1,128}$/, { message: 'must be 1-128 printable ASCII characters' })
  name: string;

  @ApiProperty({
    enum: SCOPES,
    isArray: true,
    example: ['write'],
    description: '`read` (reads), `write` (also membership changes and registrations), `admin` (also segments, reports, imports, tokens)',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SCOPES.length)
  @ArrayUnique()
  @IsIn(SCOPES, { each: true })
  scopes: Scope[];

  @FutureInstant({ example: '2027-06-01T00:00:00Z', description: 'The token stops working at this instant' })
  expires_at?: string;
}

@ApiSchema({ name: 'Token' })
export class TokenDto {
  @ApiProperty({ format: 'uuid', example: '0b6f3c9e-6a0e-4f57-9a57-7f3c4bb4c1d2' })
  id: string;

  @ApiProperty({ example: 'checkout-service' })
  name: string;

  @ApiProperty({ enum: SCOPES, isArray: true, example: ['write'] })
  scopes: Scope[];

  @ApiProperty({ example: '2026-11-29T10:00:00.000Z' })
  created_at: Date;

  @ApiProperty({ type: Date, nullable: true, example: null })
  expires_at: Date | null;

  @ApiProperty({ type: Date, nullable: true, example: null, description: 'Set once the token is revoked' })
  revoked_at: Date | null;

  @ApiProperty({ type: Date, nullable: true, example: null, description: 'Last request made with the token (recorded every few seconds)' })
  last_used_at: Date | null;

  static from(token: ApiToken): TokenDto {
    return {
      id: token.id,
      name: token.name,
      scopes: token.scopes,
      created_at: token.createdAt,
      expires_at: token.expiresAt,
      revoked_at: token.revokedAt,
      last_used_at: token.lastUsedAt,
    };
  }
}

/** The token as listed, without what a new token cannot have yet, and with its secret. */
@ApiSchema({ name: 'CreatedToken' })
export class CreatedTokenDto extends PickType(TokenDto, ['id', 'name', 'scopes', 'created_at', 'expires_at'] as const) {
  @ApiProperty({
    example: 'seg_3q2-7wEXAMPLE-EXAMPLE-EXAMPLE-EXAMPLE-EXAMPL',
    description: 'The secret: send it as `Authorization: Bearer <token>`. Shown only in this response',
  })
  token: string;
}

@ApiSchema({ name: 'TokenPage' })
export class TokenPageDto {
  @ApiProperty({ type: [TokenDto], description: 'In creation order; revoked tokens included' })
  items: TokenDto[];

  @ApiProperty({ type: String, nullable: true, description: 'Cursor of the next page; null on the last page' })
  next_cursor: string | null;
}
