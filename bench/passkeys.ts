import { TesseraClient } from '../src/client/sdk.ts';
import type { PasskeyRequestOptions } from '../src/shared/passkeys.ts';
import { SoftwareAuthenticator } from '../test/support/passkey-authenticator.ts';
import { Connection, Tally } from './connection.ts';
import { anonymousCsrf, registerPerson, type Csrf } from './fixtures.ts';
import { Samples, type CustomLoad, type Round } from './load.ts';

/**
 * Passwordless sign-in with a passkey (docs/passkeys.md), driven by the harness: every sign-in is
 * two requests, the options (a fresh challenge) and the answer signed by a software authenticator
 * (test/support/passkey-authenticator.ts, ES256) in the harness, so the server verifies a real
 * signature each time. The rate is sign-ins per second; the latency is per sign-in (both requests).
 */

/** A person of their own with one passkey, added through the API as the portal would. */
export async function passkeyHolder(baseUrl: string): Promise<SoftwareAuthenticator> {
  const person = await registerPerson(baseUrl);
  const client = new TesseraClient({ baseUrl, cookieJar: true });
  await client.signIn({ email: person.email, password: person.password });
  // the origin the server expects is its public URL: `npm start`'s default, localhost and its port
  const authenticator = new SoftwareAuthenticator({ origin: `http://localhost:${new URL(baseUrl).port}` });
  await client.addPasskey({ credential: authenticator.create(await client.startPasskeyRegistration(person.password)) });
  return authenticator;
}

/**
 * One person with a passkey per connection: an authenticator signs one ceremony at a time and its
 * counter must reach the server in order, as it would from one device.
 */
export class PasskeySignIns implements CustomLoad {
  readonly #baseUrl: string;
  readonly #authenticators: SoftwareAuthenticator[];
  readonly problems: string[] = [];

  constructor(baseUrl: string, authenticators: SoftwareAuthenticator[]) {
    this.#baseUrl = baseUrl;
    this.#authenticators = authenticators;
  }

  async round(durationS: number, latencies?: Samples): Promise<Round> {
    const tally = new Tally();
    let signIns = 0;
    // each connection is a signed-out browser: its CSRF pair, and no session sent back
    const pairs: Csrf[] = await Promise.all(this.#authenticators.map(() => anonymousCsrf(this.#baseUrl)));
    const started = performance.now();
    const until = started + durationS * 1000;
    await Promise.all(
      pairs.map(async (csrf, i) => {
        const authenticator = this.#authenticators[i]!;
        const connection = new Connection(this.#baseUrl);
        const headers = { accept: 'application/json', cookie: csrf.cookie, 'x-csrf-token': csrf.token };
        try {
          while (performance.now() < until) {
            const t0 = performance.now();
            try {
              const options = await connection.request('POST', '/api/v1/auth/passkey/options', headers);
              if (!tally.answer(options.status, 200, 'POST /api/v1/auth/passkey/options', options.body)) continue;
              const credential = authenticator.get(JSON.parse(options.body) as PasskeyRequestOptions);
              const signedIn = await connection.request('POST', '/api/v1/auth/passkey/sign-in', { ...headers, 'content-type': 'application/json' }, JSON.stringify({ credential }));
              if (!tally.answer(signedIn.status, 200, 'POST /api/v1/auth/passkey/sign-in', signedIn.body)) continue;
            } catch (error) {
              tally.failed(error as Error, 'passkey sign-in');
              continue;
            }
            signIns += 1;
            latencies?.push(performance.now() - t0);
          }
        } finally {
          connection.close();
        }
      }),
    );
    const elapsedS = (performance.now() - started) / 1000;
    this.problems.push(...tally.problems.slice(0, 5 - this.problems.length));
    return { units: signIns, elapsedS, ok: tally.ok, non2xx: tally.non2xx, errors: tally.errors, timeouts: tally.timeouts, statusCodes: tally.statusCodes };
  }
}
