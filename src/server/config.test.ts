import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, configFromEnv, oidcSettingsOf } from './config.ts';

describe('configuration from the environment', () => {
  it('defaults to port 3000 and ./data on the embedded database', () => {
    const config = configFromEnv({});
    assert.equal(config.port, 3000);
    assert.equal(config.dataDir, path.resolve('data'));
    assert.equal(config.databaseUrl, undefined);
  });

  it('reads PORT, TESSERA_DATA_DIR and DATABASE_URL, and treats empty variables as unset', () => {
    const config = configFromEnv({ PORT: '8080', TESSERA_DATA_DIR: '/var/lib/tessera', DATABASE_URL: 'postgres://u@h/db', TESSERA_SMTP_URL: '' });
    assert.deepEqual([config.port, config.dataDir, config.databaseUrl, config.smtpUrl], [8080, '/var/lib/tessera', 'postgres://u@h/db', undefined]);
  });

  it('refuses a bad value at start, naming every variable that is wrong', () => {
    assert.throws(
      () => configFromEnv({ PORT: 'eighty', DATABASE_URL: 'mysql://x', TESSERA_SECRET: 'short' }),
      (error: unknown) =>
        error instanceof ConfigError && /PORT/.test(error.message) && /DATABASE_URL/.test(error.message) && /TESSERA_SECRET/.test(error.message),
    );
  });

  it('turns OpenID Connect sign-in on only with an issuer and its client, google meaning Google', () => {
    assert.equal(oidcSettingsOf(configFromEnv({})), null);
    const google = oidcSettingsOf(configFromEnv({ TESSERA_OIDC_ISSUER: 'google', TESSERA_OIDC_CLIENT_ID: 'id', TESSERA_OIDC_CLIENT_SECRET: 'secret' }));
    assert.deepEqual([google?.issuer.href, google?.name], ['https://accounts.google.com/', 'Google']);
    const other = oidcSettingsOf(configFromEnv({ TESSERA_OIDC_ISSUER: 'https://login.example.com', TESSERA_OIDC_CLIENT_ID: 'id', TESSERA_OIDC_CLIENT_SECRET: 'secret', TESSERA_OIDC_NAME: 'Example' }));
    assert.deepEqual([other?.issuer.href, other?.name], ['https://login.example.com/', 'Example']);
    assert.throws(() => configFromEnv({ TESSERA_OIDC_ISSUER: 'google' }), /TESSERA_OIDC_CLIENT_ID/);
  });

  it('refuses a plain-http issuer unless it is on this machine', () => {
    const client = { TESSERA_OIDC_CLIENT_ID: 'id', TESSERA_OIDC_CLIENT_SECRET: 'secret' };
    assert.throws(() => configFromEnv({ ...client, TESSERA_OIDC_ISSUER: 'http://login.example.com' }), /https/);
    assert.ok(oidcSettingsOf(configFromEnv({ ...client, TESSERA_OIDC_ISSUER: 'http://127.0.0.1:4000' })));
  });
});
