import type { KeyService } from '../crypto/key.service.ts';
import type { Store } from '../repos.ts';
import type { Clock } from '../shared/clock.ts';
import type { OperatorActor, TenantActor } from '../shared/context.ts';
import { ConflictError, NotFoundError, ValidationError } from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import { auditOrigin } from '../audit/audit.types.ts';
import { NotAllowedError } from '../identity/identity.errors.ts';
import { hasCapability } from '../identity/roles.policy.ts';
import type { Tenant, TenantSettingsPatch } from './tenant.types.ts';

const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/;

/** Tenant lifecycle (operator) and tenant settings (owner/admin). */
export class TenantService {
  readonly #store: Store;
  readonly #keys: KeyService;
  readonly #clock: Clock;
  readonly #defaults: { quotaBytes: number; keepVersions: number };

  constructor(deps: {
    store: Store;
    keys: KeyService;
    clock: Clock;
    defaults: { quotaBytes: number; keepVersions: number };
  }) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#clock = deps.clock;
    this.#defaults = deps.defaults;
  }

  /** Creates a tenant with its root folder and its own key-encryption key. */
  async createTenant(
    actor: OperatorActor,
    input: { name: string; slug: string; quotaBytes?: number },
  ): Promise<Tenant> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200) {
      throw new ValidationError('invalid_name', 'Give the organisation a name of 1 to 200 characters.');
    }
    const slug = input.slug.trim().toLowerCase();
    if (!SLUG_PATTERN.test(slug)) {
      throw new ValidationError(
        'invalid_slug',
        'The short name may use a–z, 0–9 and hyphens (at most 48 characters).',
      );
    }
    if (await this.#store.repos.tenants.findBySlug(slug)) {
      throw new ConflictError('slug_taken', `The short name "${slug}" is already used.`);
    }
    const now = this.#clock.now();
    const tenant: Tenant = {
      id: newId(),
      slug,
      name,
      status: 'active',
      quotaBytes: input.quotaBytes ?? this.#defaults.quotaBytes,
      usedBytes: 0,
      keepVersions: this.#defaults.keepVersions,
      requireMfa: false,
      createdAt: now,
      suspendedAt: null,
    };
    // The key first: a tenant must never exist without the key its content will be sealed under.
    await this.#keys.ensureTenantKey(tenant.id, 'content');
    await this.#store.withTransaction(async (tx) => {
      await tx.tenants.insert(tenant);
      await tx.nodes.insert({
        id: newId(),
        tenantId: tenant.id,
        parentId: null,
        kind: 'folder',
        name: '',
        nameKey: '',
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
      });
      await tx.audit.append({
        tenantId: null,
        action: 'tenant.create',
        targetType: 'tenant',
        targetId: tenant.id,
        ...auditOrigin(actor),
        details: { slug },
      });
      await tx.audit.append({
        tenantId: tenant.id,
        action: 'tenant.create',
        targetType: 'tenant',
        targetId: tenant.id,
        ...auditOrigin(actor),
        details: { slug },
      });
    });
    return tenant;
  }

  async listTenants(_actor: OperatorActor): Promise<Tenant[]> {
    return this.#store.repos.tenants.listForAllTenants();
  }

  /** Suspends or resumes a tenant: suspended tenants' sessions and tokens stop working. */
  async setSuspended(actor: OperatorActor, tenantId: string, isSuspended: boolean): Promise<Tenant> {
    const tenant = await this.#getForOperator(tenantId);
    const now = this.#clock.now();
    await this.#store.withTransaction(async (tx) => {
      await tx.tenants.update(tenantId, {
        status: isSuspended ? 'suspended' : 'active',
        suspendedAt: isSuspended ? now : null,
      });
      const action = isSuspended ? 'tenant.suspend' : 'tenant.resume';
      await tx.audit.append({
        tenantId: null,
        action,
        targetType: 'tenant',
        targetId: tenantId,
        ...auditOrigin(actor),
      });
      await tx.audit.append({
        tenantId,
        action,
        targetType: 'tenant',
        targetId: tenantId,
        ...auditOrigin(actor),
      });
    });
    return { ...tenant, status: isSuspended ? 'suspended' : 'active', suspendedAt: isSuspended ? now : null };
  }

  /** The operator's view of one tenant. */
  async getForOperator(_actor: OperatorActor, tenantId: string): Promise<Tenant> {
    return this.#getForOperator(tenantId);
  }

  async getOwnTenant(actor: TenantActor): Promise<Tenant> {
    const tenant = await this.#store.repos.tenants.findById(actor.tenantId);
    if (!tenant) {
      throw new NotFoundError('tenant_not_found', 'Organisation not found.');
    }
    return tenant;
  }

  /** Owner/admin settings: name, two-factor requirement, versions kept. Quota is the operator's. */
  async updateSettings(actor: TenantActor, patch: Omit<TenantSettingsPatch, 'quotaBytes'>): Promise<Tenant> {
    if (!hasCapability(actor.role, 'tenant.settings')) {
      throw new NotAllowedError('change organisation settings');
    }
    if (
      patch.keepVersions !== undefined &&
      (!Number.isInteger(patch.keepVersions) || patch.keepVersions < 1 || patch.keepVersions > 1000)
    ) {
      throw new ValidationError('invalid_keep_versions', 'Keep between 1 and 1000 versions of each file.');
    }
    if (patch.name !== undefined && (patch.name.trim().length === 0 || patch.name.length > 200)) {
      throw new ValidationError('invalid_name', 'Give the organisation a name of 1 to 200 characters.');
    }
    await this.#store.withTransaction(async (tx) => {
      await tx.tenants.update(actor.tenantId, { ...patch, name: patch.name?.trim() });
      await tx.audit.append({
        tenantId: actor.tenantId,
        action: 'tenant.settings_update',
        targetType: 'tenant',
        targetId: actor.tenantId,
        ...auditOrigin(actor),
        details: { ...patch },
      });
    });
    return this.getOwnTenant(actor);
  }

  /** Operator sets a tenant's quota. */
  async setQuota(actor: OperatorActor, tenantId: string, quotaBytes: number): Promise<Tenant> {
    await this.#getForOperator(tenantId);
    if (!Number.isSafeInteger(quotaBytes) || quotaBytes < 0) {
      throw new ValidationError('invalid_quota', 'The quota must be a whole number of bytes.');
    }
    await this.#store.withTransaction(async (tx) => {
      await tx.tenants.update(tenantId, { quotaBytes });
      await tx.audit.append({
        tenantId,
        action: 'tenant.quota_update',
        targetType: 'tenant',
        targetId: tenantId,
        ...auditOrigin(actor),
        details: { quotaBytes },
      });
    });
    return this.#getForOperator(tenantId);
  }

  async #getForOperator(tenantId: string): Promise<Tenant> {
    const tenant = await this.#store.repos.tenants.findById(tenantId);
    if (!tenant) {
      throw new NotFoundError('tenant_not_found', 'Organisation not found.');
    }
    return tenant;
  }
}
