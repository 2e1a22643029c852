/**
 * The one error type of the chat. The core throws it; each edge maps it once (HTTP status and
 * JSON body, ws `error` frame, Socket.IO acknowledgement). Its message is a sentence a person can
 * act on and is shown to the client. Any other error is a 500 with a generic sentence.
 */
export class ChatError extends Error {
  readonly status: number;
  /** On a 429 (PROTOCOL.md, Limits): whole seconds until trying again can succeed (`Retry-After`). */
  readonly retryAfterS: number | undefined;

  constructor(status: number, message: string, options: { retryAfterS?: number } = {}) {
    super(message);
    this.name = 'ChatError';
    this.status = status;
    this.retryAfterS = options.retryAfterS;
  }
}

export const GENERIC_ERROR = 'Something went wrong on the server; please try again.';

export function isChatError(error: unknown): error is ChatError {
  return error instanceof ChatError;
}
