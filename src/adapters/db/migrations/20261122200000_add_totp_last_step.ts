import type { Kysely } from 'kysely';

// RFC 6238 §5.2: a TOTP code must not be accepted twice. Remember the last time step used per user.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are frozen; no table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('totp_last_step', 'bigint').execute();
}
