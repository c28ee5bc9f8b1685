/** An answer that is none the API documents: from something in between (a proxy's error page), not from the service. */
export class UnexpectedResponseError extends Error {
  constructor(readonly response: Response) {
    super(`${response.url} answered ${response.status} ${response.statusText}, which is no answer of the account service`);
    this.name = 'UnexpectedResponseError';
  }
}
