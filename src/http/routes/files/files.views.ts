import type { FileVersion, StoredNode } from '../../../core/files/file.types.ts';
import type { NodeViewType } from './files.schemas.ts';

/** Domain → API shapes for the files area. */
export function nodeView(n: StoredNode): NodeViewType {
  return {
    id: n.id,
    parentId: n.parentId,
    kind: n.kind,
    name: n.name,
    size: n.size,
    mimeType: n.mimeType,
    currentVersionId: n.currentVersionId,
    createdBy: n.createdBy,
    updatedBy: n.updatedBy,
    createdAt: n.createdAt,
    updatedAt: n.updatedAt,
    trashedAt: n.trashedAt,
  };
}

export function versionView(v: FileVersion, currentVersionId: string | null) {
  return {
    id: v.id,
    number: v.number,
    size: v.size,
    sha256: v.sha256,
    createdBy: v.createdBy,
    createdAt: v.createdAt,
    isCurrent: v.id === currentVersionId,
  };
}
