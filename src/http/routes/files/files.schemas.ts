import { Type, type Static } from 'typebox';
import { Id, NullableTimestamp, Role, Timestamp } from '../common.schemas.ts';

export const NodeView = Type.Object({
  id: Type.String(),
  parentId: Type.Union([Type.String(), Type.Null()]),
  kind: Type.Union([Type.Literal('folder'), Type.Literal('file')]),
  name: Type.String(),
  size: Type.Integer(),
  mimeType: Type.Union([Type.String(), Type.Null()]),
  currentVersionId: Type.Union([Type.String(), Type.Null()]),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  updatedBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  trashedAt: NullableTimestamp,
});
export type NodeViewType = Static<typeof NodeView>;

export const NodeDetail = Type.Object({
  node: NodeView,
  path: Type.Array(Type.Object({ id: Type.String(), name: Type.String() })),
  canWrite: Type.Boolean(),
});

export const VersionView = Type.Object({
  id: Type.String(),
  number: Type.Integer(),
  size: Type.Integer(),
  sha256: Type.Union([Type.String(), Type.Null()]),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  isCurrent: Type.Boolean(),
});

export const NodeList = Type.Object({ items: Type.Array(NodeView) });
export const VersionList = Type.Object({ items: Type.Array(VersionView) });
export const UploadResult = Type.Object({ node: NodeView, version: VersionView });

export const ListQuery = Type.Object({
  sort: Type.Optional(Type.Union([Type.Literal('name'), Type.Literal('size'), Type.Literal('updatedAt')])),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
  q: Type.Optional(Type.String({ maxLength: 255 })),
});
export const NameBody = Type.Object(
  { name: Type.String({ maxLength: 1024 }) },
  { additionalProperties: false },
);
export const PatchNodeBody = Type.Object(
  { name: Type.Optional(Type.String({ maxLength: 1024 })), parentId: Type.Optional(Id) },
  { additionalProperties: false },
);
export const CopyBody = Type.Object(
  { parentId: Id, name: Type.Optional(Type.String({ maxLength: 1024 })) },
  { additionalProperties: false },
);
export const UploadParams = Type.Object({ id: Id, name: Type.String({ maxLength: 4096 }) });
export const ContentQuery = Type.Object({
  version: Type.Optional(Id),
  download: Type.Optional(Type.Boolean()),
});
export const VersionParams = Type.Object({ id: Id, versionId: Id });
export const PathQuery = Type.Object({ path: Type.String({ maxLength: 8192 }) });
export const GrantBody = Type.Object(
  { userId: Id, access: Type.Union([Type.Literal('read'), Type.Literal('write')]) },
  { additionalProperties: false },
);
export const GrantParams = Type.Object({ id: Id, userId: Id });
export const GrantList = Type.Object({
  items: Type.Array(Type.Object({ userId: Type.String(), access: Type.String(), createdAt: Timestamp })),
});
export const SharedFolders = Type.Object({
  items: Type.Array(Type.Intersect([NodeView, Type.Object({ access: Type.String() })])),
});
export const PurgeResult = Type.Object({ items: Type.Integer(), bytes: Type.Integer() });
export { Role };
