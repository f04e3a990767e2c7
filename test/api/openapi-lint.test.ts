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

    it("has no errors under Redocly's recommended rules, with declared tags and examples that fit their schemas", async () => {
      const source = (await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).body;
      // two warnings of the recommended set made errors: every tag is declared (with a description
      // for the rendered reference), and every request example is valid against its schema
      const config = await createConfig({ extends: ['recommended'], rules: { 'operation-tag-defined': 'error', 'no-invalid-media-type-examples': 'error' } });
      const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config });
      const errors = problems
        .filter((p) => p.severity === 'error')
        .map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`);
      assert.deepEqual(errors, []);
    });
  });
}
