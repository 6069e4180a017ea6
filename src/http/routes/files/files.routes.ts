import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../../../compose.ts';
import { tenantActor } from '../../plugins/auth.ts';
import { IdParams, Ok, withErrors } from '../common.schemas.ts';
import {
  CopyBody,
  GrantBody,
  GrantList,
  GrantParams,
  ListQuery,
  NameBody,
  NodeDetail,
  NodeList,
  NodeView,
  PatchNodeBody,
  PathQuery,
  PurgeResult,
  SharedFolders,
  VersionList,
  VersionParams,
  UploadResult,
} from './files.schemas.ts';
import { nodeView, versionView } from './files.views.ts';

/** The folder tree, versions, the trash and folder grants (file bytes are in content.routes.ts). */
export const filesRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { auth, tree, files } = services;
  const tags = ['files'];

  app.get(
    '/nodes/root',
    { schema: { tags, summary: "The organisation's top folder", response: withErrors({ 200: NodeDetail }) } },
    async (request) => {
      const actor = tenantActor(request, auth);
      const root = await tree.getRoot(actor);
      return detail(await tree.getNode(actor, root.id));
    },
  );

  app.get(
    '/nodes/resolve',
    {
      schema: {
        tags,
        summary: 'Find a file or folder by its path',
        querystring: PathQuery,
        response: withErrors({ 200: NodeDetail }),
      },
    },
    async (request) => {
      const actor = tenantActor(request, auth);
      const node = await tree.resolvePath(actor, request.query.path);
      return detail(await tree.getNode(actor, node.id));
    },
  );

  app.get(
    '/nodes/:id',
    {
      schema: {
        tags,
        summary: 'A file or folder, with its path',
        params: IdParams,
        response: withErrors({ 200: NodeDetail }),
      },
    },
    async (request) => {
      return detail(await tree.getNode(tenantActor(request, auth), request.params.id));
    },
  );

  app.get(
    '/nodes/:id/children',
    {
      schema: {
        tags,
        summary: "A folder's contents",
        params: IdParams,
        querystring: ListQuery,
        response: withErrors({ 200: NodeList }),
      },
    },
    async (request) => {
      const items = await tree.listChildren(tenantActor(request, auth), request.params.id, {
        sort: request.query.sort,
        order: request.query.order,
        nameContains: request.query.q,
      });
      return { items: items.map(nodeView) };
    },
  );

  app.post(
    '/nodes/:id/folders',
    {
      schema: {
        tags,
        summary: 'Create a folder inside this one',
        params: IdParams,
        body: NameBody,
        response: withErrors({ 201: NodeView }),
      },
    },
    async (request, reply) => {
      const folder = await tree.createFolder(
        tenantActor(request, auth),
        request.params.id,
        request.body.name,
      );
      return reply.code(201).send(nodeView(folder));
    },
  );

  app.patch(
    '/nodes/:id',
    {
      schema: {
        tags,
        summary: 'Rename and/or move',
        params: IdParams,
        body: PatchNodeBody,
        response: withErrors({ 200: NodeView }),
      },
    },
    async (request) => {
      return nodeView(await tree.renameOrMove(tenantActor(request, auth), request.params.id, request.body));
    },
  );

  app.post(
    '/nodes/:id/copy',
    {
      schema: {
        tags,
        summary: 'Copy a file or folder',
        params: IdParams,
        body: CopyBody,
        response: withErrors({ 201: NodeView }),
      },
    },
    async (request, reply) => {
      const copy = await tree.copy(tenantActor(request, auth), request.params.id, request.body);
      return reply.code(201).send(nodeView(copy));
    },
  );

  app.delete(
    '/nodes/:id',
    { schema: { tags, summary: 'Move to the trash', params: IdParams, response: withErrors({ 200: Ok }) } },
    async (request) => {
      await tree.trash(tenantActor(request, auth), request.params.id);
      return { ok: true as const };
    },
  );

  app.get(
    '/nodes/:id/versions',
    {
      schema: {
        tags,
        summary: 'Version history of a file',
        params: IdParams,
        response: withErrors({ 200: VersionList }),
      },
    },
    async (request) => {
      const actor = tenantActor(request, auth);
      const node = await tree.getNode(actor, request.params.id);
      const versions = await files.listVersions(actor, request.params.id);
      return { items: versions.map((v) => versionView(v, node.currentVersionId)) };
    },
  );

  app.post(
    '/nodes/:id/versions/:versionId/restore',
    {
      schema: {
        tags,
        summary: 'Make an old version current again',
        params: VersionParams,
        response: withErrors({ 200: UploadResult }),
      },
    },
    async (request) => {
      const result = await files.restoreVersion(
        tenantActor(request, auth),
        request.params.id,
        request.params.versionId,
      );
      return { node: nodeView(result.node), version: versionView(result.version, result.version.id) };
    },
  );

  app.get(
    '/trash',
    { schema: { tags, summary: 'Items in the trash', response: withErrors({ 200: NodeList }) } },
    async (request) => {
      return { items: (await tree.listTrash(tenantActor(request, auth))).map(nodeView) };
    },
  );

  app.post(
    '/trash/:id/restore',
    {
      schema: {
        tags,
        summary: 'Restore an item from the trash',
        params: IdParams,
        response: withErrors({ 200: NodeView }),
      },
    },
    async (request) => {
      return nodeView(await tree.restore(tenantActor(request, auth), request.params.id));
    },
  );

  app.delete(
    '/trash/:id',
    {
      schema: {
        tags,
        summary: 'Delete an item in the trash for good',
        params: IdParams,
        response: withErrors({ 200: PurgeResult }),
      },
    },
    async (request) => {
      return tree.purge(tenantActor(request, auth), request.params.id);
    },
  );

  app.get(
    '/shared-with-me',
    {
      schema: {
        tags,
        summary: 'Folders shared with me (guests start here)',
        response: withErrors({ 200: SharedFolders }),
      },
    },
    async (request) => {
      const items = await tree.listGrantedFolders(tenantActor(request, auth));
      return { items: items.map((i) => ({ ...nodeView(i), access: i.access })) };
    },
  );

  app.get(
    '/nodes/:id/grants',
    {
      schema: {
        tags,
        summary: 'Who has been given access to this folder',
        params: IdParams,
        response: withErrors({ 200: GrantList }),
      },
    },
    async (request) => {
      const grants = await tree.listFolderGrants(tenantActor(request, auth), request.params.id);
      return { items: grants.map((g) => ({ userId: g.userId, access: g.access, createdAt: g.createdAt })) };
    },
  );

  app.post(
    '/nodes/:id/grants',
    {
      schema: {
        tags,
        summary: 'Give a member (typically a guest) access to this folder',
        params: IdParams,
        body: GrantBody,
        response: withErrors({ 200: Ok }),
      },
    },
    async (request) => {
      await tree.grantFolder(tenantActor(request, auth), { folderId: request.params.id, ...request.body });
      return { ok: true as const };
    },
  );

  app.delete(
    '/nodes/:id/grants/:userId',
    {
      schema: {
        tags,
        summary: "Remove someone's access to this folder",
        params: GrantParams,
        response: withErrors({ 200: Ok }),
      },
    },
    async (request) => {
      await tree.revokeFolder(tenantActor(request, auth), request.params.id, request.params.userId);
      return { ok: true as const };
    },
  );
};

function detail(node: Awaited<ReturnType<Services['tree']['getNode']>>) {
  return {
    node: nodeView(node),
    path: node.path.map((p) => ({ id: p.id, name: p.name })),
    canWrite: node.canWrite,
  };
}
