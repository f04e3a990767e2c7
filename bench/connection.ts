import http from 'node:http';

/** What loads driven by the harness itself (lease pairs, passkey sign-ins) send requests with and count answers in. */

/** One keep-alive HTTP/1.1 connection, one request at a time (as each autocannon connection). */
export class Connection {
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  readonly #host: string;
  readonly #port: number;

  constructor(baseUrl: string) {
    const url = new URL(baseUrl);
    this.#host = url.hostname;
    this.#port = Number(url.port);
  }

  request(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        { host: this.#host, port: this.#port, method, path, agent: this.#agent, headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          response.on('error', reject);
        },
      );
      request.setTimeout(10_000, () => request.destroy(new Error('timeout')));
      request.on('error', reject);
      request.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Counts of one round, with the first few unexpected answers kept for the error message. */
export class Tally {
  ok = 0;
  non2xx = 0;
  errors = 0;
  timeouts = 0;
  readonly statusCodes: Record<string, number> = {};
  readonly problems: string[] = [];

  answer(status: number, expected: number, what: string, body: string): boolean {
    this.statusCodes[status] = (this.statusCodes[status] ?? 0) + 1;
    if (status === expected) {
      this.ok += 1;
      return true;
    }
    if (status < 200 || status >= 300) this.non2xx += 1;
    else this.errors += 1; // a 2xx other than the one the API promises is just as wrong
    if (this.problems.length < 5) this.problems.push(`${what} answered ${status}: ${body.slice(0, 300)}`);
    return false;
  }

  failed(error: Error, what: string): void {
    if (error.message === 'timeout') this.timeouts += 1;
    else this.errors += 1;
    if (this.problems.length < 5) this.problems.push(`${what}: ${error.message}`);
  }
}

