import type { Kysely, Migration, MigrationProvider } from 'kysely';

/**
 * The one migration set, run at start-up on either dialect. Only portable column types are used
 * (see schema.ts). Append new migrations; never edit one that has shipped.
 */
const migrations: Record<string, Migration> = {
  '0001_control_plane': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('orgs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('live_listen_enabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('api_keys')
        .addColumn('prefix', 'text', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();

      await db.schema
        .createTable('calls')
        .addColumn('pk', 'text', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
        .addColumn('call_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('from_number', 'text')
        .addColumn('to_number', 'text')
        .addColumn('metadata', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .addColumn('last_activity_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('calls_org_call_id_unique', ['org_id', 'call_id'])
        .execute();
      await db.schema
        .createIndex('calls_org_created_idx')
        .on('calls')
        .columns(['org_id', 'created_at', 'pk'])
        .execute();
      await db.schema
        .createIndex('calls_status_activity_idx')
        .on('calls')
        .columns(['status', 'last_activity_at'])
        .execute();

      await db.schema
        .createTable('listen_tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('call_pk', 'text', (c) => c.notNull().references('calls.pk').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema.createIndex('listen_tokens_call_idx').on('listen_tokens').column('call_pk').execute();

      await db.schema
        .createTable('ingest_tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('call_pk', 'text', (c) => c.notNull().references('calls.pk').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ingest_tokens_call_idx').on('ingest_tokens').column('call_pk').execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['ingest_tokens', 'listen_tokens', 'calls', 'api_keys', 'orgs']) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  },
  '0002_listen_token_api_key': {
    async up(db: Kysely<unknown>) {
      // Which API key minted each listen token, so that revoking the key revokes its listen URLs.
      // Null for tokens minted before this migration (and for any minted without a key).
      await db.schema.alterTable('listen_tokens').addColumn('api_key_prefix', 'text').execute();
      await db.schema
        .createIndex('listen_tokens_api_key_idx')
        .on('listen_tokens')
        .column('api_key_prefix')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('listen_tokens_api_key_idx').ifExists().execute();
      await db.schema.alterTable('listen_tokens').dropColumn('api_key_prefix').execute();
    },
  },
  '0003_ingest_keys': {
    async up(db: Kysely<unknown>) {
      // Keys that bring audio in on any ingest endpoint, creating calls by themselves (SPEC §4.4).
      await db.schema
        .createTable('ingest_keys')
        .addColumn('prefix', 'text', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text')
        .addColumn('client_secret', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createIndex('ingest_keys_org_idx')
        .on('ingest_keys')
        .columns(['org_id', 'created_at'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('ingest_keys').ifExists().execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
