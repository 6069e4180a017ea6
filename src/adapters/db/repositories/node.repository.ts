import { sql, type Kysely, type Selectable, type Updateable } from 'kysely';
import type {
  FileVersion,
  FolderGrant,
  StoredNode,
  Upload,
  UploadPart,
} from '../../../core/files/file.types.ts';
import type {
  FolderGrantRepository,
  NodeRepository,
  UploadRepository,
  VersionRepository,
} from '../../../core/files/ports.repos.ts';
import { PreparedInsert, PreparedStatement } from '../prepared-statement.ts';
import type { Database, FileVersionTable, NodeTable, UploadPartTable, UploadTable } from '../tables.ts';

// The statements every upload runs, built once (see PreparedStatement).
const INSERT_NODE = new PreparedInsert('nodes', [
  'id',
  'tenant_id',
  'parent_id',
  'kind',
  'name',
  'name_key',
  'current_version_id',
  'size',
  'mime_type',
  'created_by',
  'updated_by',
  'created_at',
  'updated_at',
  'trashed_at',
  'trashed_by',
  'trash_root_id',
]);
const INSERT_VERSION = new PreparedInsert('file_versions', [
  'id',
  'tenant_id',
  'node_id',
  'number',
  'state',
  'size',
  'sha256',
  'blob_key',
  'data_key_id',
  'created_by',
  'created_at',
  'committed_at',
]);
const FIND_LIVE_NODE = new PreparedStatement((db, tenantId: string, id: string) =>
  db
    .selectFrom('nodes')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('trashed_at', 'is', null),
);
const FIND_LIVE_CHILD = new PreparedStatement((db, tenantId: string, parentId: string, nameKey: string) =>
  db
    .selectFrom('nodes')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('parent_id', '=', parentId)
    .where('name_key', '=', nameKey)
    .where('trashed_at', 'is', null),
);

export class KyselyNodeRepository implements NodeRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(n: StoredNode): Promise<void> {
    await INSERT_NODE.execute(this.#db, fromNode(n));
  }

  async findLive(tenantId: string, id: string): Promise<StoredNode | undefined> {
    const row = await FIND_LIVE_NODE.executeTakeFirst(this.#db, tenantId, id);
    return row ? toNode(row) : undefined;
  }

  async findAny(tenantId: string, id: string): Promise<StoredNode | undefined> {
    const row = await this.#db
      .selectFrom('nodes')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toNode(row) : undefined;
  }

  async findRoot(tenantId: string): Promise<StoredNode | undefined> {
    const row = await this.#db
      .selectFrom('nodes')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('parent_id', 'is', null)
      .executeTakeFirst();
    return row ? toNode(row) : undefined;
  }

  async findLiveChild(tenantId: string, parentId: string, nameKey: string): Promise<StoredNode | undefined> {
    const row = await FIND_LIVE_CHILD.executeTakeFirst(this.#db, tenantId, parentId, nameKey);
    return row ? toNode(row) : undefined;
  }

  async listLiveChildren(tenantId: string, parentId: string): Promise<StoredNode[]> {
    const rows = await this.#db
      .selectFrom('nodes')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('parent_id', '=', parentId)
      .where('trashed_at', 'is', null)
      .orderBy('kind', 'desc')
      .orderBy('name_key')
      .execute();
    return rows.map(toNode);
  }

  async listSubtree(
    tenantId: string,
    id: string,
    options: { trashRootId: string | null },
  ): Promise<StoredNode[]> {
    const rows = await this.#db
      .withRecursive('subtree(id)', (db) =>
        db
          .selectFrom('nodes')
          .select('id')
          .where('tenant_id', '=', tenantId)
          .where('parent_id', '=', id)
          .where((eb) =>
            options.trashRootId === null
              ? eb('trashed_at', 'is', null)
              : eb('trash_root_id', '=', options.trashRootId),
          )
          .unionAll((qb) =>
            qb
              .selectFrom('nodes as n')
              .innerJoin('subtree as s', 's.id', 'n.parent_id')
              .select('n.id')
              .where('n.tenant_id', '=', tenantId)
              .where((eb) =>
                options.trashRootId === null
                  ? eb('n.trashed_at', 'is', null)
                  : eb('n.trash_root_id', '=', options.trashRootId),
              ),
          ),
      )
      .selectFrom('nodes')
      .selectAll('nodes')
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', (qb) => qb.selectFrom('subtree').select('subtree.id'))
      .execute();
    return rows.map(toNode);
  }

  async listAncestors(tenantId: string, id: string): Promise<StoredNode[]> {
    const rows = await this.#db
      .withRecursive('chain(id, parent_id, depth)', (db) =>
        db
          .selectFrom('nodes')
          .select(['id', 'parent_id', sql<number>`0`.as('depth')])
          .where('tenant_id', '=', tenantId)
          .where('id', '=', id)
          .unionAll((qb) =>
            qb
              .selectFrom('nodes as n')
              .innerJoin('chain as c', 'c.parent_id', 'n.id')
              .select(['n.id', 'n.parent_id', sql<number>`c.depth + 1`.as('depth')])
              .where('n.tenant_id', '=', tenantId)
              .where(sql<boolean>`c.depth < 1000`),
          ),
      )
      .selectFrom('chain')
      .innerJoin('nodes', 'nodes.id', 'chain.id')
      .selectAll('nodes')
      .select('chain.depth')
      .where('chain.depth', '>', 0)
      .orderBy('chain.depth')
      .execute();
    return rows.map(toNode);
  }

  async listTrashRoots(tenantId: string): Promise<StoredNode[]> {
    const rows = await this.#db
      .selectFrom('nodes')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('trashed_at', 'is not', null)
      .whereRef('trash_root_id', '=', 'id')
      .orderBy('trashed_at', 'desc')
      .execute();
    return rows.map(toNode);
  }

  async update(
    tenantId: string,
    id: string,
    patch: Partial<Omit<StoredNode, 'id' | 'tenantId' | 'createdAt'>>,
  ): Promise<void> {
    // The patch is partial: map it as a whole node, then keep only the fields it actually sets.
    const values: Updateable<NodeTable> = Object.fromEntries(
      Object.entries(fromNode(patch as StoredNode)).filter(([, v]) => v !== undefined),
    );
    if (Object.keys(values).length === 0) {
      return;
    }
    await this.#db
      .updateTable('nodes')
      .set(values)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  }

  async markTrashed(
    tenantId: string,
    ids: string[],
    patch: { trashedAt: number; trashedBy: string; trashRootId: string },
  ): Promise<void> {
    for (const chunk of chunks(ids, 500)) {
      await this.#db
        .updateTable('nodes')
        .set({ trashed_at: patch.trashedAt, trashed_by: patch.trashedBy, trash_root_id: patch.trashRootId })
        .where('tenant_id', '=', tenantId)
        .where('id', 'in', chunk)
        .execute();
    }
  }

  async clearTrash(tenantId: string, trashRootId: string): Promise<void> {
    await this.#db
      .updateTable('nodes')
      .set({ trashed_at: null, trashed_by: null, trash_root_id: null })
      .where('tenant_id', '=', tenantId)
      .where('trash_root_id', '=', trashRootId)
      .execute();
  }

  async deleteMany(tenantId: string, ids: string[]): Promise<void> {
    for (const chunk of chunks(ids, 500)) {
      await this.#db.deleteFrom('nodes').where('tenant_id', '=', tenantId).where('id', 'in', chunk).execute();
    }
  }
}

export class KyselyVersionRepository implements VersionRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(v: FileVersion): Promise<void> {
    await INSERT_VERSION.execute(this.#db, {
      id: v.id,
      tenant_id: v.tenantId,
      node_id: v.nodeId,
      number: v.number,
      state: v.state,
      size: v.size,
      sha256: v.sha256,
      blob_key: v.blobKey,
      data_key_id: v.dataKeyId,
      created_by: v.createdBy,
      created_at: v.createdAt,
      committed_at: v.committedAt,
    });
  }

  async find(tenantId: string, id: string): Promise<FileVersion | undefined> {
    const row = await this.#db
      .selectFrom('file_versions')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toVersion(row) : undefined;
  }

  async listByNode(tenantId: string, nodeId: string): Promise<FileVersion[]> {
    const rows = await this.#db
      .selectFrom('file_versions')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('node_id', '=', nodeId)
      .orderBy('number', 'desc')
      .execute();
    return rows.map(toVersion);
  }

  async listByNodes(tenantId: string, nodeIds: string[]): Promise<FileVersion[]> {
    const result: FileVersion[] = [];
    for (const chunk of chunks(nodeIds, 500)) {
      const rows = await this.#db
        .selectFrom('file_versions')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('node_id', 'in', chunk)
        .execute();
      result.push(...rows.map(toVersion));
    }
    return result;
  }

  async nextNumber(tenantId: string, nodeId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('file_versions')
      .select((eb) => eb.fn.max('number').as('n'))
      .where('tenant_id', '=', tenantId)
      .where('node_id', '=', nodeId)
      .executeTakeFirst();
    return Number(row?.n ?? 0) + 1;
  }

  async deleteMany(tenantId: string, ids: string[]): Promise<void> {
    for (const chunk of chunks(ids, 500)) {
      await this.#db
        .deleteFrom('file_versions')
        .where('tenant_id', '=', tenantId)
        .where('id', 'in', chunk)
        .execute();
    }
  }

  async listBlobKeysInUse(tenantId: string, blobKeys: string[]): Promise<Set<string>> {
    const used = new Set<string>();
    for (const chunk of chunks(blobKeys, 500)) {
      const rows = await this.#db
        .selectFrom('file_versions')
        .select('blob_key')
        .distinct()
        .where('tenant_id', '=', tenantId)
        .where('blob_key', 'in', chunk)
        .execute();
      rows.forEach((r) => used.add(r.blob_key));
    }
    return used;
  }

  async listBlobKeys(tenantId: string): Promise<Set<string>> {
    const rows = await this.#db
      .selectFrom('file_versions')
      .select('blob_key')
      .where('tenant_id', '=', tenantId)
      .execute();
    return new Set(rows.map((r) => r.blob_key));
  }
}

export class KyselyFolderGrantRepository implements FolderGrantRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async upsert(g: FolderGrant): Promise<void> {
    await this.#db
      .insertInto('folder_grants')
      .values({
        tenant_id: g.tenantId,
        node_id: g.nodeId,
        user_id: g.userId,
        access: g.access,
        created_at: g.createdAt,
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'node_id', 'user_id']).doUpdateSet({ access: g.access }))
      .execute();
  }

  async delete(tenantId: string, nodeId: string, userId: string): Promise<void> {
    await this.#db
      .deleteFrom('folder_grants')
      .where('tenant_id', '=', tenantId)
      .where('node_id', '=', nodeId)
      .where('user_id', '=', userId)
      .execute();
  }

  async listByUser(tenantId: string, userId: string): Promise<FolderGrant[]> {
    const rows = await this.#db
      .selectFrom('folder_grants')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .execute();
    return rows.map((r) => ({
      tenantId: r.tenant_id,
      nodeId: r.node_id,
      userId: r.user_id,
      access: r.access === 'write' ? 'write' : 'read',
      createdAt: Number(r.created_at),
    }));
  }

  async listByNode(tenantId: string, nodeId: string): Promise<FolderGrant[]> {
    const rows = await this.#db
      .selectFrom('folder_grants')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('node_id', '=', nodeId)
      .execute();
    return rows.map((r) => ({
      tenantId: r.tenant_id,
      nodeId: r.node_id,
      userId: r.user_id,
      access: r.access === 'write' ? 'write' : 'read',
      createdAt: Number(r.created_at),
    }));
  }
}

export class KyselyUploadRepository implements UploadRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(u: Upload): Promise<void> {
    await this.#db
      .insertInto('uploads')
      .values({
        id: u.id,
        tenant_id: u.tenantId,
        user_id: u.userId,
        parent_id: u.parentId,
        name: u.name,
        length: u.length,
        received: u.received,
        blob_key: u.blobKey,
        data_key_id: u.dataKeyId,
        metadata: JSON.stringify(u.metadata),
        node_id: u.nodeId,
        created_at: u.createdAt,
        updated_at: u.updatedAt,
        expires_at: u.expiresAt,
        completed_at: u.completedAt,
      })
      .execute();
  }

  async find(tenantId: string, id: string): Promise<Upload | undefined> {
    const row = await this.#db
      .selectFrom('uploads')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toUpload(row) : undefined;
  }

  async update(
    tenantId: string,
    id: string,
    patch: Partial<Pick<Upload, 'received' | 'updatedAt' | 'completedAt' | 'nodeId'>>,
  ): Promise<void> {
    await this.#db
      .updateTable('uploads')
      .set({
        received: patch.received,
        updated_at: patch.updatedAt,
        completed_at: patch.completedAt,
        node_id: patch.nodeId,
      })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  }

  async delete(tenantId: string, id: string): Promise<void> {
    await this.#db.deleteFrom('uploads').where('tenant_id', '=', tenantId).where('id', '=', id).execute();
  }

  async listExpiredForAllTenants(now: number): Promise<Upload[]> {
    const rows = await this.#db
      .selectFrom('uploads')
      .selectAll()
      .where('expires_at', '<', now)
      .where('completed_at', 'is', null)
      .execute();
    return rows.map(toUpload);
  }

  async listBlobKeys(tenantId: string): Promise<Set<string>> {
    const rows = await this.#db
      .selectFrom('uploads')
      .select('blob_key')
      .where('tenant_id', '=', tenantId)
      .where('completed_at', 'is', null)
      .execute();
    return new Set(rows.map((r) => r.blob_key));
  }

  async advance(
    tenantId: string,
    id: string,
    change: { from: number; to: number; updatedAt: number; expiresAt: number },
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable('uploads')
      .set({ received: change.to, updated_at: change.updatedAt, expires_at: change.expiresAt })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('received', '=', change.from)
      .where('completed_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async markCompleted(
    tenantId: string,
    id: string,
    patch: { completedAt: number; nodeId: string },
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable('uploads')
      .set({ completed_at: patch.completedAt, updated_at: patch.completedAt, node_id: patch.nodeId })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .whereRef('received', '=', 'length')
      .where('completed_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async deletePending(
    tenantId: string,
    id: string,
    options: { expiredBefore?: number } = {},
  ): Promise<boolean> {
    let query = this.#db
      .deleteFrom('uploads')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('completed_at', 'is', null);
    if (options.expiredBefore !== undefined) {
      query = query.where('expires_at', '<', options.expiredBefore);
    }
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async deleteCompletedForAllTenants(expiredBefore: number): Promise<number> {
    const result = await this.#db
      .deleteFrom('uploads')
      .where('completed_at', 'is not', null)
      .where('expires_at', '<', expiredBefore)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async listParts(tenantId: string, uploadId: string): Promise<UploadPart[]> {
    const rows = await this.#db
      .selectFrom('upload_parts')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('upload_id', '=', uploadId)
      .orderBy('first_segment')
      .execute();
    return rows.map(toUploadPart);
  }

  async savePart(p: UploadPart): Promise<void> {
    await this.#db
      .insertInto('upload_parts')
      .values({
        tenant_id: p.tenantId,
        upload_id: p.uploadId,
        first_segment: p.firstSegment,
        plain_end: p.plainEnd,
        blob_key: p.blobKey,
        created_at: p.createdAt,
      })
      .onConflict((oc) =>
        oc
          .columns(['tenant_id', 'upload_id', 'first_segment'])
          .doUpdateSet({ plain_end: p.plainEnd, blob_key: p.blobKey, created_at: p.createdAt }),
      )
      .execute();
  }

  async deleteParts(tenantId: string, uploadId: string): Promise<void> {
    await this.#db
      .deleteFrom('upload_parts')
      .where('tenant_id', '=', tenantId)
      .where('upload_id', '=', uploadId)
      .execute();
  }
}

function* chunks<T>(items: T[], size: number): Iterable<T[]> {
  for (let i = 0; i < items.length; i += size) {
    yield items.slice(i, i + size);
  }
}

function fromNode(n: StoredNode): Selectable<NodeTable> {
  return {
    id: n.id,
    tenant_id: n.tenantId,
    parent_id: n.parentId,
    kind: n.kind,
    name: n.name,
    name_key: n.nameKey,
    current_version_id: n.currentVersionId,
    size: n.size,
    mime_type: n.mimeType,
    created_by: n.createdBy,
    updated_by: n.updatedBy,
    created_at: n.createdAt,
    updated_at: n.updatedAt,
    trashed_at: n.trashedAt,
    trashed_by: n.trashedBy,
    trash_root_id: n.trashRootId,
  };
}

function toNode(row: Selectable<NodeTable>): StoredNode {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    parentId: row.parent_id,
    kind: row.kind === 'folder' ? 'folder' : 'file',
    name: row.name,
    nameKey: row.name_key,
    currentVersionId: row.current_version_id,
    size: Number(row.size),
    mimeType: row.mime_type,
    createdBy: row.created_by,
    updatedBy: row.updated_by,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    trashedAt: row.trashed_at === null ? null : Number(row.trashed_at),
    trashedBy: row.trashed_by,
    trashRootId: row.trash_root_id,
  };
}

function toVersion(row: Selectable<FileVersionTable>): FileVersion {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    nodeId: row.node_id,
    number: row.number,
    state: 'committed',
    size: Number(row.size),
    sha256: row.sha256,
    blobKey: row.blob_key,
    dataKeyId: row.data_key_id,
    createdBy: row.created_by,
    createdAt: Number(row.created_at),
    committedAt: row.committed_at === null ? null : Number(row.committed_at),
  };
}

function toUpload(row: Selectable<UploadTable>): Upload {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    parentId: row.parent_id,
    name: row.name,
    length: Number(row.length),
    received: Number(row.received),
    blobKey: row.blob_key,
    dataKeyId: row.data_key_id,
    metadata: row.metadata ? (JSON.parse(row.metadata) as Record<string, string>) : {},
    nodeId: row.node_id,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    expiresAt: Number(row.expires_at),
    completedAt: row.completed_at === null ? null : Number(row.completed_at),
  };
}

function toUploadPart(row: Selectable<UploadPartTable>): UploadPart {
  return {
    tenantId: row.tenant_id,
    uploadId: row.upload_id,
    firstSegment: Number(row.first_segment),
    plainEnd: Number(row.plain_end),
    blobKey: row.blob_key,
    createdAt: Number(row.created_at),
  };
}
