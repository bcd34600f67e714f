/**
 * What a request did wrong (or what the server could not do for it), as a status and one line naming the
 * column, operator or limit involved. The server answers it as `{"error": message}`; nothing else in a
 * request's failure reaches the client (an unexpected error is a 500 with a fixed text, logged on stderr).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);
