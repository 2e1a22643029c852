/**
 * The stable names of the sentences a person may see, so an edge can say them in the reader's
 * language (the web's catalogues have `error.<code>` for each) without matching English text.
 */
export const ERROR_CODES = [
  'generic',
  'notFound',
  'roomGone',
  'roomFull',
  'wrongPassword',
  'needsPassword',
  'kicked',
  'ownerOnlyRemove',
  'ownerOnlyKick',
  'ownerSelfKick',
  'titleLength',
  'chatLength',
  'capacity',
  'passwordLength',
  'gifTooLarge',
  'notAGif',
  'noGif',
  'noSuchGif',
  'noSession',
  'shuttingDown',
  'redisUnreachable',
  'databaseUnreachable',
  'unreadableBody',
  'tooLarge',
  'unsupportedType',
  'originRefused',
  'postsTooFast',
  'roomsTooFast',
  'tooManyRooms',
  'passwordsTooFast',
  'passwordsFromNetwork',
  'sessionsFromNetwork',
  'connectionsFromNetwork',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ChatErrorOptions {
  /** On a 429: whole seconds until trying again can succeed. */
  retryAfterS?: number;
  /** Which sentence this is, for an edge that translates it; none for a sentence only programs see. */
  code?: ErrorCode;
  /** The values in the sentence (`{max}`, `{wait}`), for its translations. */
  params?: Readonly<Record<string, string | number>>;
}

/**
 * The one error type of the chat. The core throws it; each edge maps it once (HTTP status and
 * JSON body, ws `error` frame, Socket.IO acknowledgement). Its message is a sentence a person can
 * act on and is shown to the client. Any other error is a 500 with a generic sentence.
 */
export class ChatError extends Error {
  readonly status: number;
  /** On a 429 (PROTOCOL.md, Limits): whole seconds until trying again can succeed (`Retry-After`). */
  readonly retryAfterS: number | undefined;
  readonly code: ErrorCode | undefined;
  readonly params: Readonly<Record<string, string | number>>;

  constructor(status: number, message: string, options: ChatErrorOptions = {}) {
    super(message);
    this.name = 'ChatError';
    this.status = status;
    this.retryAfterS = options.retryAfterS;
    this.code = options.code;
    this.params = options.params ?? {};
  }
}

export const GENERIC_ERROR = 'Something went wrong on the server; please try again.';

export function isChatError(error: unknown): error is ChatError {
  return error instanceof ChatError;
}
