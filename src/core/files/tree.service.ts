import { auditOrigin } from '../audit/audit.types.ts';
import { NotAllowedError } from '../identity/identity.errors.ts';
import { hasCapability } from '../identity/roles.policy.ts';
import type { Repos, Store } from '../repos.ts';
import type { Clock } from '../shared/clock.ts';
import type { TenantActor } from '../shared/context.ts';
import { ConflictError, NotFoundError, QuotaExceededError, ValidationError } from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import { FileAccess } from './files.access.ts';
import { MoveIntoSelfError, NameTakenError, NodeNotFoundError } from './files.errors.ts';
import type { FileVersion, FolderAccess, FolderGrant, SortField, StoredNode } from './file.types.ts';
import { nameKey, validateName } from './names.ts';
import type { SealedContent } from './sealed-content.ts';

const MAX_COPY_NODES = 10_000;

/** The folder tree: folders, listing, rename/move/copy, the trash, and guests' folder grants. */
export class TreeService {
  readonly #store: Store;
  readonly #content: SealedContent;
  readonly #clock: Clock;

  constructor(deps: { store: Store; content: SealedContent; clock: Clock }) {
    this.#store = deps.store;
    this.#content = deps.content;
    this.#clock = deps.clock;
  }

  /** The tenant's root folder (guests: not found; they start from their granted folders). */
  async getRoot(actor: TenantActor): Promise<StoredNode> {
    const root = await this.#store.repos.nodes.findRoot(actor.tenantId);
    if (!root) {
      throw new NodeNotFoundError();
    }
    return this.#access().readable(actor, root.id);
  }

  async getNode(
    actor: TenantActor,
    nodeId: string,
  ): Promise<StoredNode & { path: StoredNode[]; canWrite: boolean }> {
    const access = this.#access();
    const node = await access.readable(actor, nodeId);
    const ancestors = await this.#store.repos.nodes.listAncestors(actor.tenantId, node.id);
    return { ...node, path: ancestors.reverse(), canWrite: await access.canWrite(actor, node) };
  }

  /** A folder's children, folders first, sorted and optionally filtered by a name fragment. */
  async listChildren(
    actor: TenantActor,
    folderId: string,
    options: { sort?: SortField; order?: 'asc' | 'desc'; nameContains?: string } = {},
  ): Promise<StoredNode[]> {
    const folder = await this.#access().readable(actor, folderId);
    if (folder.kind !== 'folder') {
      throw new ValidationError('not_a_folder', 'This operation needs a folder.');
    }
    let children = await this.#store.repos.nodes.listLiveChildren(actor.tenantId, folder.id);
    if (options.nameContains) {
      const needle = nameKey(options.nameContains);
      children = children.filter((c) => c.nameKey.includes(needle));
    }
    const direction = options.order === 'desc' ? -1 : 1;
    const field = options.sort ?? 'name';
    return children.sort((a, b) => {
      if (a.kind !== b.kind) {
        return a.kind === 'folder' ? -1 : 1;
      }
      const left = field === 'name' ? a.nameKey : field === 'size' ? a.size : a.updatedAt;
      const right = field === 'name' ? b.nameKey : field === 'size' ? b.size : b.updatedAt;
      return (left < right ? -1 : left > right ? 1 : 0) * direction;
    });
  }

  /** Finds a node by a slash-separated path from the root ("/Reports/2026/q1.pdf"). */
  async resolvePath(actor: TenantActor, path: string): Promise<StoredNode> {
    const root = await this.#store.repos.nodes.findRoot(actor.tenantId);
    if (!root) {
      throw new NodeNotFoundError();
    }
    let node = root;
    for (const part of path.split('/').filter(Boolean)) {
      const child = await this.#store.repos.nodes.findLiveChild(actor.tenantId, node.id, nameKey(part));
      if (!child) {
        throw new NodeNotFoundError();
      }
      node = child;
    }
    return this.#access().readable(actor, node.id);
  }

  async createFolder(actor: TenantActor, parentId: string, rawName: string): Promise<StoredNode> {
    const parent = await this.#access().writableFolder(actor, parentId);
    const name = validateName(rawName);
    const now = this.#clock.now();
    const folder: StoredNode = {
      id: newId(),
      tenantId: actor.tenantId,
      parentId: parent.id,
      kind: 'folder',
      name,
      nameKey: nameKey(name),
      currentVersionId: null,
      size: 0,
      mimeType: null,
      createdBy: actor.userId,
      updatedBy: actor.userId,
      createdAt: now,
      updatedAt: now,
      trashedAt: null,
      trashedBy: null,
      trashRootId: null,
    };
    await this.#store.withTransaction(async (tx) => {
      await this.#assertNameFree(tx, actor.tenantId, parent.id, name);
      await tx.nodes.insert(folder);
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'folder.create',
        targetType: 'folder',
        targetId: folder.id,
        ...auditOrigin(actor),
        details: { parentId: parent.id, name },
      });
    });
    return folder;
  }

  /** Renames and/or moves a node. Moving a folder into its own subtree is refused. */
  async renameOrMove(
    actor: TenantActor,
    nodeId: string,
    change: { name?: string; parentId?: string },
  ): Promise<StoredNode> {
    const access = this.#access();
    const node = await access.writable(actor, nodeId);
    if (node.parentId === null) {
      throw new ConflictError('root_immutable', 'The top folder cannot be renamed or moved.');
    }
    const name = change.name === undefined ? node.name : validateName(change.name);
    const parentId = change.parentId ?? node.parentId;
    if (parentId !== node.parentId) {
      await access.writableFolder(actor, parentId);
      const targetChain = [
        parentId,
        ...(await this.#store.repos.nodes.listAncestors(actor.tenantId, parentId)).map((n) => n.id),
      ];
      if (targetChain.includes(node.id)) {
        throw new MoveIntoSelfError();
      }
    }
    const now = this.#clock.now();
    await this.#store.withTransaction(async (tx) => {
      await this.#assertNameFree(tx, actor.tenantId, parentId, name, node.id);
      await tx.nodes.update(actor.tenantId, node.id, {
        name,
        nameKey: nameKey(name),
        parentId,
        updatedAt: now,
        updatedBy: actor.userId,
      });
      const action =
        parentId !== node.parentId ? (name !== node.name ? 'node.move_rename' : 'node.move') : 'node.rename';
      await tx.audit.append({
        tenantId: actor.tenantId,
        action,
        targetType: node.kind,
        targetId: node.id,
        ...auditOrigin(actor),
        details: { fromParentId: node.parentId, toParentId: parentId, fromName: node.name, toName: name },
      });
    });
    return { ...node, name, nameKey: nameKey(name), parentId, updatedAt: now };
  }

  /**
   * Copies a file or a folder tree. Copies share the encrypted blobs of the originals (versions are
   * immutable), so a copy costs quota but not a re-encryption.
   */
  async copy(
    actor: TenantActor,
    nodeId: string,
    target: { parentId: string; name?: string },
  ): Promise<StoredNode> {
    const access = this.#access();
    const source = await access.readable(actor, nodeId);
    if (source.parentId === null) {
      throw new ConflictError('root_immutable', 'The top folder cannot be copied.');
    }
    const parent = await access.writableFolder(actor, target.parentId);
    const name = validateName(target.name ?? source.name);
    const descendants =
      source.kind === 'folder'
        ? await this.#store.repos.nodes.listSubtree(actor.tenantId, source.id, { trashRootId: null })
        : [];
    if (descendants.length + 1 > MAX_COPY_NODES) {
      throw new ValidationError('copy_too_large', `A copy may hold at most ${MAX_COPY_NODES} items.`);
    }
    if (source.kind === 'folder') {
      const chain = [
        parent.id,
        ...(await this.#store.repos.nodes.listAncestors(actor.tenantId, parent.id)).map((n) => n.id),
      ];
      if (chain.includes(source.id)) {
        throw new MoveIntoSelfError();
      }
    }
    const all = [source, ...descendants];
    const versions = await this.#store.repos.versions.listByNodes(
      actor.tenantId,
      all.filter((n) => n.kind === 'file').map((n) => n.id),
    );
    const current = new Map(versions.map((v) => [v.id, v]));
    const now = this.#clock.now();
    const idMap = new Map<string, string>(all.map((n) => [n.id, newId()]));
    const bytes = all.reduce(
      (sum, n) => sum + (n.currentVersionId ? (current.get(n.currentVersionId)?.size ?? 0) : 0),
      0,
    );
    return this.#store.withTransaction(async (tx) => {
      await this.#assertNameFree(tx, actor.tenantId, parent.id, name);
      if (!(await tx.tenants.chargeBytes(actor.tenantId, bytes))) {
        throw new QuotaExceededError({ requestedBytes: bytes });
      }
      let copyRoot: StoredNode | undefined;
      for (const n of all) {
        const isTop = n.id === source.id;
        const copyId = idMap.get(n.id) ?? newId();
        const version = n.currentVersionId ? current.get(n.currentVersionId) : undefined;
        const versionCopy: FileVersion | undefined = version
          ? {
              ...version,
              id: newId(),
              nodeId: copyId,
              number: 1,
              createdBy: actor.userId,
              createdAt: now,
              committedAt: now,
            }
          : undefined;
        const copyNode: StoredNode = {
          ...n,
          id: copyId,
          parentId: isTop ? parent.id : (idMap.get(n.parentId ?? '') ?? null),
          name: isTop ? name : n.name,
          nameKey: isTop ? nameKey(name) : n.nameKey,
          currentVersionId: versionCopy?.id ?? null,
          createdBy: actor.userId,
          updatedBy: actor.userId,
          createdAt: now,
          updatedAt: now,
        };
        await tx.nodes.insert(copyNode);
        if (versionCopy) {
          await tx.versions.insert(versionCopy);
        }
        copyRoot ??= copyNode;
      }
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'node.copy',
        targetType: source.kind,
        targetId: source.id,
        ...auditOrigin(actor),
        details: { copyId: idMap.get(source.id), toParentId: parent.id, name, items: all.length, bytes },
      });
      if (!copyRoot) {
        throw new NodeNotFoundError();
      }
      return copyRoot;
    });
  }

  /** Sends a node (and everything under it) to the trash. */
  async trash(actor: TenantActor, nodeId: string): Promise<void> {
    const node = await this.#access().writable(actor, nodeId);
    if (node.parentId === null) {
      throw new ConflictError('root_immutable', 'The top folder cannot be deleted.');
    }
    const descendants =
      node.kind === 'folder'
        ? await this.#store.repos.nodes.listSubtree(actor.tenantId, node.id, { trashRootId: null })
        : [];
    const now = this.#clock.now();
    await this.#store.withTransaction(async (tx) => {
      await tx.nodes.markTrashed(actor.tenantId, [node.id, ...descendants.map((d) => d.id)], {
        trashedAt: now,
        trashedBy: actor.userId,
        trashRootId: node.id,
      });
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'node.trash',
        targetType: node.kind,
        targetId: node.id,
        ...auditOrigin(actor),
        details: { name: node.name, items: descendants.length + 1 },
      });
    });
  }

  /** What is in the trash (only the items users deleted, not their contents). */
  async listTrash(actor: TenantActor): Promise<StoredNode[]> {
    this.#requireMemberWrite(actor);
    return this.#store.repos.nodes.listTrashRoots(actor.tenantId);
  }

  /** Brings a trashed item back to its folder; if the name is taken meanwhile, under a new name. */
  async restore(actor: TenantActor, nodeId: string): Promise<StoredNode> {
    this.#requireMemberWrite(actor);
    const node = await this.#trashRoot(actor, nodeId);
    const parent = node.parentId
      ? await this.#store.repos.nodes.findLive(actor.tenantId, node.parentId)
      : undefined;
    if (!parent) {
      throw new ConflictError(
        'restore_parent_missing',
        'The folder this item was in is gone. Restore that folder first.',
      );
    }
    return this.#store.withTransaction(async (tx) => {
      let name = node.name;
      for (let n = 2; await tx.nodes.findLiveChild(actor.tenantId, parent.id, nameKey(name)); n++) {
        name = withSuffix(node.name, ` (restored ${n - 1})`);
      }
      // Rename first: the node must not become live under a name that is taken (unique index).
      if (name !== node.name) {
        await tx.nodes.update(actor.tenantId, node.id, { name, nameKey: nameKey(name) });
      }
      await tx.nodes.clearTrash(actor.tenantId, node.id);
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'node.restore',
        targetType: node.kind,
        targetId: node.id,
        ...auditOrigin(actor),
        details: { name },
      });
      return { ...node, name, nameKey: nameKey(name), trashedAt: null, trashedBy: null, trashRootId: null };
    });
  }

  /** Deletes a trashed item for good: rows, then data keys (crypto-erasure), then blobs. */
  async purge(actor: TenantActor, nodeId: string): Promise<{ items: number; bytes: number }> {
    this.#requireMemberWrite(actor);
    const node = await this.#trashRoot(actor, nodeId);
    const descendants = await this.#store.repos.nodes.listSubtree(actor.tenantId, node.id, {
      trashRootId: node.id,
    });
    const ids = [node.id, ...descendants.map((d) => d.id)];
    const versions = await this.#store.repos.versions.listByNodes(actor.tenantId, ids);
    const bytes = versions.reduce((sum, v) => sum + v.size, 0);
    await this.#store.withTransaction(async (tx) => {
      await tx.versions.deleteMany(
        actor.tenantId,
        versions.map((v) => v.id),
      );
      await tx.nodes.deleteMany(actor.tenantId, ids);
      await tx.tenants.releaseBytes(actor.tenantId, bytes);
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'node.purge',
        targetType: node.kind,
        targetId: node.id,
        ...auditOrigin(actor),
        details: { name: node.name, items: ids.length, versions: versions.length, bytes },
      });
    });
    const inUse = await this.#store.repos.versions.listBlobKeysInUse(
      actor.tenantId,
      versions.map((v) => v.blobKey),
    );
    const unique = new Map(versions.filter((v) => !inUse.has(v.blobKey)).map((v) => [v.blobKey, v]));
    await this.#content.destroy(actor.tenantId, [...unique.values()]);
    return { items: ids.length, bytes };
  }

  /** Gives a guest (or any member) read or write access to a folder and what is inside it. */
  async grantFolder(
    actor: TenantActor,
    input: { folderId: string; userId: string; access: FolderAccess },
  ): Promise<FolderGrant> {
    this.#requireManage(actor);
    const folder = await this.#access().readable(actor, input.folderId);
    if (folder.kind !== 'folder') {
      throw new ValidationError('not_a_folder', 'Access can be granted to folders only.');
    }
    if (!(await this.#store.repos.memberships.find(actor.tenantId, input.userId))) {
      throw new NotFoundError('member_not_found', 'Member not found.');
    }
    const grant: FolderGrant = {
      tenantId: actor.tenantId,
      nodeId: folder.id,
      userId: input.userId,
      access: input.access,
      createdAt: this.#clock.now(),
    };
    await this.#store.withTransaction(async (tx) => {
      await tx.grants.upsert(grant);
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'folder.grant',
        targetType: 'folder',
        targetId: folder.id,
        ...auditOrigin(actor),
        details: { userId: input.userId, access: input.access },
      });
    });
    return grant;
  }

  async revokeFolder(actor: TenantActor, folderId: string, userId: string): Promise<void> {
    this.#requireManage(actor);
    await this.#access().readable(actor, folderId);
    // As in grantFolder: someone outside this tenant is "not found", never a silent success.
    if (!(await this.#store.repos.memberships.find(actor.tenantId, userId))) {
      throw new NotFoundError('member_not_found', 'Member not found.');
    }
    await this.#store.withTransaction(async (tx) => {
      await tx.grants.delete(actor.tenantId, folderId, userId);
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'folder.revoke',
        targetType: 'folder',
        targetId: folderId,
        ...auditOrigin(actor),
        details: { userId },
      });
    });
  }

  async listFolderGrants(actor: TenantActor, folderId: string): Promise<FolderGrant[]> {
    this.#requireManage(actor);
    await this.#access().readable(actor, folderId);
    return this.#store.repos.grants.listByNode(actor.tenantId, folderId);
  }

  /** The folders shared with the acting user (a guest's starting points). */
  async listGrantedFolders(actor: TenantActor): Promise<Array<StoredNode & { access: FolderAccess }>> {
    const grants = await this.#store.repos.grants.listByUser(actor.tenantId, actor.userId);
    const nodes = await Promise.all(
      grants.map(async (g) => ({
        grant: g,
        node: await this.#store.repos.nodes.findLive(actor.tenantId, g.nodeId),
      })),
    );
    return nodes
      .filter((x): x is { grant: FolderGrant; node: StoredNode } => Boolean(x.node))
      .map((x) => ({ ...x.node, access: x.grant.access }));
  }

  #access(): FileAccess {
    return new FileAccess(this.#store.repos);
  }

  async #trashRoot(actor: TenantActor, nodeId: string): Promise<StoredNode> {
    const node = await this.#store.repos.nodes.findAny(actor.tenantId, nodeId);
    if (!node || node.trashedAt === null || node.trashRootId !== node.id) {
      throw new NodeNotFoundError();
    }
    return node;
  }

  async #assertNameFree(
    tx: Repos,
    tenantId: string,
    parentId: string,
    name: string,
    exceptId?: string,
  ): Promise<void> {
    const clash = await tx.nodes.findLiveChild(tenantId, parentId, nameKey(name));
    if (clash && clash.id !== exceptId) {
      throw new NameTakenError(name, clash.id);
    }
  }

  #requireMemberWrite(actor: TenantActor): void {
    if (!hasCapability(actor.role, 'files.write')) {
      throw new NotAllowedError('manage the trash');
    }
  }

  #requireManage(actor: TenantActor): void {
    if (!hasCapability(actor.role, 'members.manage')) {
      throw new NotAllowedError('manage folder access');
    }
  }
}

function withSuffix(name: string, suffix: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)}${suffix}${name.slice(dot)}` : `${name}${suffix}`;
}
