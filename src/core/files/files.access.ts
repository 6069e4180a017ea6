import { hasCapability } from '../identity/roles.policy.ts';
import { NotAllowedError } from '../identity/identity.errors.ts';
import type { Repos } from '../repos.ts';
import type { TenantActor } from '../shared/context.ts';
import { NodeNotFoundError, WrongNodeKindError } from './files.errors.ts';
import type { FolderAccess, StoredNode } from './file.types.ts';

/**
 * Who may see and change which nodes. Members read (and, by role, write) the whole tenant; guests
 * reach only folders granted to them and what is inside. A node a guest may not see answers "not
 * found", exactly like one that does not exist.
 */
export class FileAccess {
  readonly #repos: Repos;

  constructor(repos: Repos) {
    this.#repos = repos;
  }

  /** A live node the actor may read. Throws NodeNotFoundError otherwise. */
  async readable(actor: TenantActor, nodeId: string): Promise<StoredNode> {
    const node = await this.#repos.nodes.findLive(actor.tenantId, nodeId);
    if (!node || !(await this.#allows(actor, node, 'read'))) {
      throw new NodeNotFoundError();
    }
    return node;
  }

  /** A live node the actor may change. Unseen → NodeNotFoundError; seen but read-only → NotAllowedError. */
  async writable(actor: TenantActor, nodeId: string): Promise<StoredNode> {
    const node = await this.readable(actor, nodeId);
    if (!(await this.#allows(actor, node, 'write'))) {
      throw new NotAllowedError('change files here');
    }
    return node;
  }

  async writableFolder(actor: TenantActor, nodeId: string): Promise<StoredNode> {
    const node = await this.writable(actor, nodeId);
    if (node.kind !== 'folder') {
      throw new WrongNodeKindError('folder');
    }
    return node;
  }

  /** May the actor change this node, given it can already see it? */
  async canWrite(actor: TenantActor, node: StoredNode): Promise<boolean> {
    return this.#allows(actor, node, 'write');
  }

  async #allows(actor: TenantActor, node: StoredNode, need: FolderAccess): Promise<boolean> {
    if (hasCapability(actor.role, need === 'read' ? 'files.read' : 'files.write')) {
      return true;
    }
    if (actor.role !== 'guest') {
      return false;
    }
    const grants = await this.#repos.grants.listByUser(actor.tenantId, actor.userId);
    if (grants.length === 0) {
      return false;
    }
    const chain = [
      node.id,
      ...(await this.#repos.nodes.listAncestors(actor.tenantId, node.id)).map((n) => n.id),
    ];
    return grants.some((g) => chain.includes(g.nodeId) && (need === 'read' || g.access === 'write'));
  }
}
