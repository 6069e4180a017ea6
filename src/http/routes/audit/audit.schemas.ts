import { Type } from 'typebox';
import { Timestamp } from '../common.schemas.ts';

/**
 * Report filters arrive as text and are parsed in core (report.query.ts), which names the bad field
 * in a 400 invalid_report_query. Here only lengths are bounded and unknown parameters refused.
 */
const text = (description: string, maxLength = 100) => Type.Optional(Type.String({ maxLength, description }));

export const ReportQuerystring = Type.Object(
  {
    file: text('Only events about this file (its id), across its versions, moves and shares.'),
    actor: text(
      'Only events by this user (their id; includes their API tokens), or one token: userId/tokenId.',
    ),
    ip: text('Only events from this IPv4 or IPv6 address.', 64),
    action: text('An action (file.download) or a family of actions (file. or file.*).'),
    from: text('Start of the period, inclusive: a date (UTC day), a date-time with zone, or epoch ms.', 40),
    to: text('End of the period, inclusive: a date (whole UTC day), a date-time with zone, or epoch ms.', 40),
    cursor: text('From nextCursor of the previous page.', 60),
    limit: text('Entries per page, 1 to 500 (default 50).', 10),
  },
  { additionalProperties: false },
);

export const FileActivityQuerystring = Type.Omit(ReportQuerystring, ['file'], {
  additionalProperties: false,
});

const NullableString = Type.Union([Type.String(), Type.Null()]);

export const ReportEntryView = Type.Object({
  seq: Type.Integer(),
  occurredAt: Timestamp,
  action: Type.String(),
  outcome: Type.String(),
  actorType: Type.String(),
  actorId: NullableString,
  actorName: NullableString,
  actorEmail: NullableString,
  targetType: NullableString,
  targetId: NullableString,
  fileId: NullableString,
  fileName: NullableString,
  channel: Type.String(),
  ip: NullableString,
  userAgent: NullableString,
  details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  entryHash: NullableString,
});

export const ReportPageView = Type.Object({
  entries: Type.Array(ReportEntryView),
  nextCursor: NullableString,
});
