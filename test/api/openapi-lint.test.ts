import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { BACKENDS } from '../support/databases.ts';
import { startTestApp, type TestApp } from '../support/app.ts';

for (const backend of BACKENDS) {
  describe(`the OpenAPI document passes a maintained linter (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    it("has no errors under Redocly's recommended rules", async () => {
      const source = (await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).body;
      const config = await createConfig({ extends: ['recommended'] });
      const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config });
      const errors = problems
        .filter((p) => p.severity === 'error')
        .map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`);
      assert.deepEqual(errors, []);
    });
  });
}
