import { createHmac } from 'node:crypto';
import { auditOrigin } from '../audit/audit.types.ts';
import { resolveRange } from '../files/content.service.ts';
import { FileAccess } from '../files/files.access.ts';
import { WrongNodeKindError } from '../files/files.errors.ts';
import type { FileVersion, StoredNode } from '../files/file.types.ts';
import type { SealedContent } from '../files/sealed-content.ts';
import { NotAllowedError } from '../identity/identity.errors.ts';
import type { PasswordHasher } from '../identity/ports.ts';
import { hasCapability } from '../identity/roles.policy.ts';
import { hashSecret, newSecret, safeEqual } from '../identity/secrets.ts';
import type { Store } from '../repos.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestOrigin, TenantActor } from '../shared/context.ts';
import {
  ForbiddenError,
  NotFoundError,
  ThrottledError,
  UnauthenticatedError,
  ValidationError,
} from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import type { ShareLink } from './share.types.ts';
import type { Readable } from 'node:stream';

const TICKET_TTL_MS = 10 * 60_000;
const PASSWORD_WINDOW_MS = 15 * 60_000;
const PASSWORD_MAX_FAILURES = 20;

/** The public face of a link: what a recipient may know before and after unlocking it. */
export interface SharedFileInfo {
  name: string | null;
  size: number | null;
  mimeType: string | null;
  expiresAt: number | null;
  downloadsLeft: number | null;
  needsPassword: boolean;
}

/**
 * Share links: a secret URL to one file, with optional expiry, password and download limit.
 * Only the token's hash is stored. Every use — good, refused or wrong password — is audited.
 */
export class ShareService {
  readonly #store: Store;
  readonly #content: SealedContent;
  readonly #hasher: PasswordHasher;
  readonly #clock: Clock;
  readonly #ticketKey: () => Promise<Buffer>;

  constructor(deps: {
    store: Store;
    content: SealedContent;
    hasher: PasswordHasher;
    clock: Clock;
    ticketKey: () => Promise<Buffer>;
  }) {
    this.#store = deps.store;
    this.#content = deps.content;
    this.#hasher = deps.hasher;
    this.#clock = deps.clock;
    this.#ticketKey = deps.ticketKey;
  }

  async createLink(
    actor: TenantActor,
    nodeId: string,
    input: { expiresAt?: number | null; password?: string | null; maxDownloads?: number | null },
  ): Promise<{ token: string; link: ShareLink }> {
    if (!hasCapability(actor.role, 'shares.manage')) {
      throw new NotAllowedError('create share links');
    }
    const node = await new FileAccess(this.#store.repos).readable(actor, nodeId);
    if (node.kind !== 'file') {
      throw new WrongNodeKindError('file');
    }
    const now = this.#clock.now();
    if (input.expiresAt !== undefined && input.expiresAt !== null && input.expiresAt <= now) {
      throw new ValidationError('invalid_expiry', 'The expiry must be in the future.');
    }
    if (
      input.maxDownloads !== undefined &&
      input.maxDownloads !== null &&
      (!Number.isInteger(input.maxDownloads) || input.maxDownloads < 1)
    ) {
      throw new ValidationError(
        'invalid_download_limit',
        'The download limit must be a whole number of at least 1.',
      );
    }
    if (input.password && (input.password.length < 6 || input.password.length > 256)) {
      throw new ValidationError('invalid_share_password', 'A link password needs 6 to 256 characters.');
    }
    const secret = newSecret('');
    const link: ShareLink = {
      id: newId(),
      tenantId: actor.tenantId,
      nodeId: node.id,
      tokenHash: secret.hash,
      tokenPrefix: secret.display,
      passwordHash: input.password ? await this.#hasher.hash(input.password) : null,
      expiresAt: input.expiresAt ?? null,
      maxDownloads: input.maxDownloads ?? null,
      downloadCount: 0,
      createdBy: actor.userId,
      createdAt: now,
      revokedAt: null,
    };
    await this.#store.withTransaction(async (tx) => {
      await tx.shares.insert(link);
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'share.create',
        targetType: 'file',
        targetId: node.id,
        ...auditOrigin(actor),
        details: {
          shareId: link.id,
          expiresAt: link.expiresAt,
          maxDownloads: link.maxDownloads,
          hasPassword: link.passwordHash !== null,
        },
      });
    });
    return { token: secret.token, link };
  }

  async listLinks(actor: TenantActor, nodeId: string): Promise<ShareLink[]> {
    const node = await new FileAccess(this.#store.repos).readable(actor, nodeId);
    return this.#store.repos.shares.listByNode(actor.tenantId, node.id);
  }

  async revokeLink(actor: TenantActor, shareId: string): Promise<void> {
    if (!hasCapability(actor.role, 'shares.manage')) {
      throw new NotAllowedError('revoke share links');
    }
    const link = await this.#store.repos.shares.find(actor.tenantId, shareId);
    if (!link) {
      throw new NotFoundError('share_not_found', 'Share link not found.');
    }
    await this.#store.withTransaction(async (tx) => {
      await tx.shares.revoke(actor.tenantId, shareId, this.#clock.now());
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'share.revoke',
        targetType: 'file',
        targetId: link.nodeId,
        ...auditOrigin(actor),
        details: { shareId },
      });
    });
  }

  /** What the recipient sees before entering a password (name only once unlocked or if none is set). */
  async describe(token: string, origin: RequestOrigin): Promise<SharedFileInfo> {
    const { link, node, version } = await this.#usable(token, origin);
    await this.#audit(link, 'share.view', 'success', origin, {});
    const info = this.#info(link, node, version);
    // Behind a password, not even the file name is disclosed.
    return link.passwordHash ? { ...info, name: null, size: null, mimeType: null } : info;
  }

  /** Checks a link password and returns a short-lived download ticket (no cookie is set). */
  async unlock(
    token: string,
    password: string,
    origin: RequestOrigin,
  ): Promise<{ ticket: string; info: SharedFileInfo }> {
    const { link, node, version } = await this.#usable(token, origin);
    await this.#checkPassword(link, password, origin);
    await this.#audit(link, 'share.unlock', 'success', origin, {});
    const expires = this.#clock.now() + TICKET_TTL_MS;
    return {
      ticket: `${expires}.${await this.#sign(`${link.id}.${expires}`)}`,
      info: this.#info(link, node, version),
    };
  }

  /**
   * Streams the shared file to a recipient, counting the download against the link's limit. `range`
   * picks the bytes once the size is known, which is only after the password or ticket checks out.
   */
  async download(
    token: string,
    proof: {
      password?: string;
      ticket?: string;
      range?: (size: number) => { start: number; end?: number } | undefined;
    },
    origin: RequestOrigin,
  ): Promise<{
    info: SharedFileInfo;
    version: FileVersion;
    start: number;
    end: number;
    isPartial: boolean;
    stream: Readable;
  }> {
    const { link, node, version } = await this.#usable(token, origin);
    if (link.passwordHash) {
      if (proof.ticket) {
        await this.#checkTicket(link, proof.ticket);
      } else {
        await this.#checkPassword(link, proof.password ?? '', origin);
      }
    }
    const range = proof.range?.(version.size);
    const { start, end } = resolveRange(version.size, range);
    // Every content request counts, ranged or not: exempting ranges would let `bytes=1-` fetch the
    // whole file past the limit. A resumed download therefore uses up one more of the allowance.
    if (!(await this.#store.repos.shares.countDownload(link.tenantId, link.id))) {
      await this.#audit(link, 'share.access', 'denied', origin, { reason: 'download_limit' });
      throw new ForbiddenError('share_download_limit', 'This link has reached its download limit.');
    }
    const stream = await this.#content.open(link.tenantId, version, { start, end });
    await this.#audit(link, 'share.download', 'success', origin, {
      versionId: version.id,
      range: range ? `${start}-${end}` : undefined,
    });
    return {
      info: this.#info(link, node, version),
      version,
      start,
      end,
      isPartial: range !== undefined,
      stream,
    };
  }

  async #usable(
    token: string,
    origin: RequestOrigin,
  ): Promise<{ link: ShareLink; node: StoredNode; version: FileVersion }> {
    const link = await this.#store.repos.shares.findByTokenHash(hashSecret(token));
    const now = this.#clock.now();
    const notFound = new NotFoundError(
      'share_not_found',
      'This link does not exist, has expired or was revoked.',
    );
    if (!link) {
      throw notFound;
    }
    const reason =
      link.revokedAt !== null
        ? 'revoked'
        : link.expiresAt !== null && link.expiresAt <= now
          ? 'expired'
          : undefined;
    const node = reason ? undefined : await this.#store.repos.nodes.findLive(link.tenantId, link.nodeId);
    const version = node?.currentVersionId
      ? await this.#store.repos.versions.find(link.tenantId, node.currentVersionId)
      : undefined;
    const tenant = await this.#store.repos.tenants.findById(link.tenantId);
    if (reason || !node || !version || tenant?.status !== 'active') {
      await this.#audit(link, 'share.access', 'denied', origin, { reason: reason ?? 'file_unavailable' });
      throw notFound;
    }
    return { link, node, version };
  }

  async #checkPassword(link: ShareLink, password: string, origin: RequestOrigin): Promise<void> {
    if (!link.passwordHash) {
      return;
    }
    const key = `share-password:${link.id}`;
    const now = this.#clock.now();
    if ((await this.#store.repos.throttles.count(key, now, PASSWORD_WINDOW_MS)) >= PASSWORD_MAX_FAILURES) {
      throw new ThrottledError(Math.ceil(PASSWORD_WINDOW_MS / 1000));
    }
    if (!password || !(await this.#hasher.verify(link.passwordHash, password))) {
      await this.#store.repos.throttles.hit(key, now, PASSWORD_WINDOW_MS);
      await this.#audit(link, 'share.access', 'failure', origin, { reason: 'wrong_password' });
      throw new UnauthenticatedError('share_password_required', 'Enter the password for this link.');
    }
  }

  async #checkTicket(link: ShareLink, ticket: string): Promise<void> {
    const [expires, signature] = ticket.split('.');
    if (
      !expires ||
      !signature ||
      Number(expires) <= this.#clock.now() ||
      !safeEqual(signature, await this.#sign(`${link.id}.${expires}`))
    ) {
      throw new UnauthenticatedError('share_password_required', 'Enter the password for this link again.');
    }
  }

  async #sign(data: string): Promise<string> {
    return createHmac('sha256', await this.#ticketKey())
      .update(data)
      .digest('base64url');
  }

  #info(link: ShareLink, node: StoredNode, version: FileVersion): SharedFileInfo {
    return {
      name: node.name,
      size: version.size,
      mimeType: node.mimeType,
      expiresAt: link.expiresAt,
      downloadsLeft: link.maxDownloads === null ? null : Math.max(0, link.maxDownloads - link.downloadCount),
      needsPassword: link.passwordHash !== null,
    };
  }

  async #audit(
    link: ShareLink,
    action: string,
    outcome: 'success' | 'failure' | 'denied',
    origin: RequestOrigin,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.#store.repos.audit.append({
      tenantId: link.tenantId,
      action,
      outcome,
      actorType: 'share_link',
      actorId: link.id,
      targetType: 'file',
      targetId: link.nodeId,
      channel: 'share_link',
      ip: origin.ip,
      userAgent: origin.userAgent,
      details,
    });
  }
}
