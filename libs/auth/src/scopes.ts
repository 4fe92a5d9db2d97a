/** Token scopes, each including the ones before it: `admin` ⊃ `write` ⊃ `read`. */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && (SCOPES as readonly string[]).includes(value);
}

/** True when a token with `scopes` may call an operation that needs `required`. */
export function grants(scopes: readonly Scope[], required: Scope): boolean {
  const rank = SCOPES.indexOf(required);
  return scopes.some((scope) => SCOPES.indexOf(scope) >= rank);
}
