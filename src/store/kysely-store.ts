import { randomUUID } from 'node:crypto';
import { type Kysely, type Selectable, sql } from 'kysely';
import { v7 as timeOrderedUuid } from 'uuid';
import type {
  Call,
  CallStatus,
  IngestKeyGrant,
  IngestKeyInfo,
  ListenGrant,
  Org,
} from '../domain/entities.js';
import type { CallsTable, Database, IngestKeysTable, OrgsTable } from './schema.js';
import { hashSecret, newApiKey, newIngestKey, newToken } from './secrets.js';
import { type CallQuery, InvalidCursorError, type NewCall, type Store } from './store.js';

const now = (): string => new Date().toISOString();

/** The single implementation of Store; the dialect only changes how `db` was built. */
export class KyselyStore implements Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>, dialect: 'sqlite' | 'postgres') {
    this.#db = db;
    this.dialect = dialect;
  }

  async createOrg(name: string, liveListenEnabled: boolean): Promise<Org> {
    const row = { id: randomUUID(), name, live_listen_enabled: liveListenEnabled ? 1 : 0, created_at: now() };
    await this.#db.insertInto('orgs').values(row).execute();
    return toOrg(row);
  }

  async getOrg(orgId: string): Promise<Org | undefined> {
    const row = await this.#db.selectFrom('orgs').selectAll().where('id', '=', orgId).executeTakeFirst();
    return row && toOrg(row);
  }

  async findOrgByName(name: string): Promise<Org | undefined> {
    const row = await this.#db
      .selectFrom('orgs')
      .selectAll()
      .where('name', '=', name)
      .orderBy('created_at')
      .limit(1)
      .executeTakeFirst();
    return row && toOrg(row);
  }

  async setLiveListenEnabled(orgId: string, enabled: boolean): Promise<Org | undefined> {
    await this.#db
      .updateTable('orgs')
      .set({ live_listen_enabled: enabled ? 1 : 0 })
      .where('id', '=', orgId)
      .execute();
    // Two statements, not one transaction: the preference must be visible before the tokens are
    // revoked, so that a listen request that minted a token meanwhile sees it on its re-check.
    if (!enabled) {
      await this.#db
        .updateTable('listen_tokens')
        .set({ revoked_at: now() })
        .where('call_pk', 'in', (eb) => eb.selectFrom('calls').select('pk').where('org_id', '=', orgId))
        .where('revoked_at', 'is', null)
        .execute();
    }
    return this.getOrg(orgId);
  }

  async createApiKey(orgId: string): Promise<{ apiKey: string; prefix: string }> {
    // A prefix carries 48 random bits; a collision is astronomically rare, but retry rather than fail.
    for (let attempt = 0; ; attempt++) {
      const key = newApiKey();
      const inserted = await this.#db
        .insertInto('api_keys')
        .values({
          prefix: key.prefix,
          org_id: orgId,
          key_hash: key.hash,
          created_at: now(),
          revoked_at: null,
        })
        .onConflict((oc) => oc.column('prefix').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1)
        return { apiKey: key.apiKey, prefix: key.prefix };
      if (attempt >= 3) throw new Error('could not allocate a unique API key prefix');
    }
  }

  async findApiKey(apiKey: string): Promise<{ org: Org; prefix: string } | undefined> {
    const row = await this.#db
      .selectFrom('api_keys')
      .innerJoin('orgs', 'orgs.id', 'api_keys.org_id')
      .select(['orgs.id', 'orgs.name', 'orgs.live_listen_enabled', 'orgs.created_at', 'api_keys.prefix'])
      .where('api_keys.key_hash', '=', hashSecret(apiKey))
      .where('api_keys.revoked_at', 'is', null)
      .executeTakeFirst();
    return row && { org: toOrg(row), prefix: row.prefix };
  }

  async revokeApiKey(prefix: string): Promise<{ orgId: string } | undefined> {
    const at = now();
    const row = await this.#db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('prefix', '=', prefix)
      .where('revoked_at', 'is', null)
      .returning('org_id')
      .executeTakeFirst();
    if (!row) return undefined;
    // After the key, in its own statement (see setLiveListenEnabled).
    await this.#db
      .updateTable('listen_tokens')
      .set({ revoked_at: at })
      .where('api_key_prefix', '=', prefix)
      .where('revoked_at', 'is', null)
      .execute();
    return { orgId: row.org_id };
  }

  async createIngestKey(
    orgId: string,
    input: { name: string | null; clientSecret: string | null },
  ): Promise<IngestKeyInfo & { ingestKey: string }> {
    for (let attempt = 0; ; attempt++) {
      const key = newIngestKey();
      const row = {
        prefix: key.prefix,
        org_id: orgId,
        key_hash: key.hash,
        name: input.name,
        client_secret: input.clientSecret,
        created_at: now(),
        last_used_at: null,
        revoked_at: null,
      };
      const inserted = await this.#db
        .insertInto('ingest_keys')
        .values(row)
        .onConflict((oc) => oc.column('prefix').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1)
        return { ingestKey: key.ingestKey, ...toIngestKeyInfo(row) };
      if (attempt >= 3) throw new Error('could not allocate a unique ingest key prefix');
    }
  }

  async listIngestKeys(orgId: string): Promise<IngestKeyInfo[]> {
    const rows = await this.#db
      .selectFrom('ingest_keys')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('prefix')
      .execute();
    return rows.map(toIngestKeyInfo);
  }

  async findIngestKey(ingestKey: string): Promise<IngestKeyGrant | undefined> {
    const row = await this.#db
      .selectFrom('ingest_keys')
      .innerJoin('orgs', 'orgs.id', 'ingest_keys.org_id')
      .select([
        'orgs.id',
        'orgs.name',
        'orgs.live_listen_enabled',
        'orgs.created_at',
        'ingest_keys.prefix',
        'ingest_keys.client_secret',
      ])
      .where('ingest_keys.key_hash', '=', hashSecret(ingestKey))
      .where('ingest_keys.revoked_at', 'is', null)
      .executeTakeFirst();
    return row && { org: toOrg(row), prefix: row.prefix, clientSecret: row.client_secret };
  }

  async touchIngestKey(prefix: string): Promise<void> {
    await this.#db
      .updateTable('ingest_keys')
      .set({ last_used_at: now() })
      .where('prefix', '=', prefix)
      .execute();
  }

  async revokeIngestKey(prefix: string, orgId?: string): Promise<{ orgId: string } | undefined> {
    let query = this.#db
      .updateTable('ingest_keys')
      .set({ revoked_at: now() })
      .where('prefix', '=', prefix)
      .where('revoked_at', 'is', null);
    if (orgId !== undefined) query = query.where('org_id', '=', orgId);
    const row = await query.returning('org_id').executeTakeFirst();
    return row && { orgId: row.org_id };
  }

  async createCall(orgId: string, input: NewCall): Promise<{ call: Call; created: boolean }> {
    const at = now();
    const row: Selectable<CallsTable> = {
      // Time-ordered (monotonic within a process), so calls created in the same millisecond still
      // list newest first: listCalls orders by (created_at, pk).
      pk: timeOrderedUuid(),
      org_id: orgId,
      call_id: input.callId ?? randomUUID(),
      status: 'active',
      from_number: input.from ?? null,
      to_number: input.to ?? null,
      metadata: input.metadata == null ? null : JSON.stringify(input.metadata),
      created_at: at,
      ended_at: null,
      last_activity_at: at,
    };
    // ON CONFLICT DO NOTHING makes concurrent creates of the same id safe on both dialects.
    await this.#db
      .insertInto('calls')
      .values(row)
      .onConflict((oc) => oc.columns(['org_id', 'call_id']).doNothing())
      .execute();
    const call = await this.getCall(orgId, row.call_id);
    if (!call) throw new Error('call vanished after insert');
    return { call, created: call.pk === row.pk };
  }

  async getCall(orgId: string, callId: string): Promise<Call | undefined> {
    const row = await this.#db
      .selectFrom('calls')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('call_id', '=', callId)
      .executeTakeFirst();
    return row && toCall(row);
  }

  async getCallByPk(pk: string): Promise<Call | undefined> {
    const row = await this.#db.selectFrom('calls').selectAll().where('pk', '=', pk).executeTakeFirst();
    return row && toCall(row);
  }

  async listCalls(orgId: string, query: CallQuery): Promise<{ calls: Call[]; nextCursor: string | null }> {
    let q = this.#db.selectFrom('calls').selectAll().where('org_id', '=', orgId);
    if (query.status) q = q.where('status', '=', query.status);
    if (query.cursor !== undefined) {
      const c = decodeCursor(query.cursor);
      q = q.where((eb) =>
        eb.or([
          eb('created_at', '<', c.createdAt),
          eb.and([eb('created_at', '=', c.createdAt), eb('pk', '<', c.pk)]),
        ]),
      );
    }
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy('pk', 'desc')
      .limit(query.limit + 1)
      .execute();
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const nextCursor = rows.length > query.limit && last ? encodeCursor(last.created_at, last.pk) : null;
    return { calls: page.map(toCall), nextCursor };
  }

  async completeCall(pk: string): Promise<{ call: Call; changed: boolean } | undefined> {
    const result = await this.#db
      .updateTable('calls')
      .set({ status: 'completed', ended_at: now() })
      .where('pk', '=', pk)
      .where('status', '=', 'active')
      .executeTakeFirst();
    const call = await this.getCallByPk(pk);
    return call && { call, changed: Number(result.numUpdatedRows) > 0 };
  }

  async touchCalls(pks: readonly string[]): Promise<void> {
    if (pks.length === 0) return;
    await this.#db
      .updateTable('calls')
      .set({ last_activity_at: now() })
      .where('pk', 'in', [...pks])
      .where('status', '=', 'active')
      .execute();
  }

  async findIdleCalls(before: string, limit: number): Promise<Call[]> {
    const rows = await this.#db
      .selectFrom('calls')
      .selectAll()
      .where('status', '=', 'active')
      .where('last_activity_at', '<', before)
      .orderBy('last_activity_at')
      .limit(limit)
      .execute();
    return rows.map(toCall);
  }

  async countActiveCalls(orgId?: string): Promise<number> {
    let query = this.#db
      .selectFrom('calls')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('status', '=', 'active');
    if (orgId !== undefined) query = query.where('org_id', '=', orgId);
    const row = await query.executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async activeCallPks(orgId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('calls')
      .select('pk')
      .where('org_id', '=', orgId)
      .where('status', '=', 'active')
      .execute();
    return rows.map((r) => r.pk);
  }

  async createListenToken(
    callPk: string,
    expiresAt: string,
    apiKeyPrefix: string | null = null,
  ): Promise<string> {
    const { token, hash } = newToken();
    await this.#db
      .insertInto('listen_tokens')
      .values({
        token_hash: hash,
        call_pk: callPk,
        created_at: now(),
        expires_at: expiresAt,
        revoked_at: null,
        api_key_prefix: apiKeyPrefix,
      })
      .execute();
    return token;
  }

  async resolveListenToken(token: string): Promise<ListenGrant | undefined> {
    const row = await this.#db
      .selectFrom('listen_tokens')
      .select(['call_pk', 'expires_at', 'revoked_at'])
      .where('token_hash', '=', hashSecret(token))
      .executeTakeFirst();
    return row && { callPk: row.call_pk, expiresAt: row.expires_at, revoked: row.revoked_at !== null };
  }

  async revokeListenTokens(callPk: string): Promise<number> {
    const result = await this.#db
      .updateTable('listen_tokens')
      .set({ revoked_at: now() })
      .where('call_pk', '=', callPk)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async revokedListenTokenHashes(callPk: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('listen_tokens')
      .select('token_hash')
      .where('call_pk', '=', callPk)
      .where('revoked_at', 'is not', null)
      .execute();
    return rows.map((r) => r.token_hash);
  }

  async listenTokensOfApiKey(prefix: string): Promise<{ callPk: string; tokenHash: string }[]> {
    const rows = await this.#db
      .selectFrom('listen_tokens')
      .innerJoin('calls', 'calls.pk', 'listen_tokens.call_pk')
      .select(['listen_tokens.call_pk', 'listen_tokens.token_hash'])
      .where('listen_tokens.api_key_prefix', '=', prefix)
      .where('calls.status', '=', 'active')
      .execute();
    return rows.map((r) => ({ callPk: r.call_pk, tokenHash: r.token_hash }));
  }

  async createIngestToken(callPk: string): Promise<string> {
    const { token, hash } = newToken();
    await this.#db
      .insertInto('ingest_tokens')
      .values({ token_hash: hash, call_pk: callPk, created_at: now() })
      .execute();
    return token;
  }

  async resolveIngestToken(token: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('ingest_tokens')
      .select('call_pk')
      .where('token_hash', '=', hashSecret(token))
      .executeTakeFirst();
    return row?.call_pk;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.#db);
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }
}

function toOrg(row: Selectable<OrgsTable>): Org {
  return {
    id: row.id,
    name: row.name,
    liveListenEnabled: row.live_listen_enabled === 1,
    createdAt: row.created_at,
  };
}

function toCall(row: Selectable<CallsTable>): Call {
  return {
    pk: row.pk,
    orgId: row.org_id,
    callId: row.call_id,
    status: row.status as CallStatus,
    from: row.from_number,
    to: row.to_number,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, unknown>),
    createdAt: row.created_at,
    endedAt: row.ended_at,
  };
}

function encodeCursor(createdAt: string, pk: string): string {
  return Buffer.from(JSON.stringify([createdAt, pk])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; pk: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string')) {
      return { createdAt: value[0], pk: value[1] };
    }
  } catch {
    // fall through
  }
  throw new InvalidCursorError();
}

function toIngestKeyInfo(row: Selectable<IngestKeysTable>): IngestKeyInfo {
  return { prefix: row.prefix, name: row.name, createdAt: row.created_at, lastUsedAt: row.last_used_at };
}
