import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PROBLEM_STATUS, PROBLEM_TITLES, type ProblemCode } from '../../shared/problems.ts';

const ProblemType = z.object({ code: z.string(), status: z.number(), title: z.string() }).meta({ id: 'ProblemType' });

/** The `type` of every problem document resolves here, so a client can look a code up. */
export const problemTypeRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/problems/:code', {
    config: { access: { scope: 'public' } },
    schema: {
      tags: ['Operations'],
      operationId: 'getProblemType',
      summary: 'What a problem type means',
      params: z.strictObject({ code: z.enum(Object.keys(PROBLEM_STATUS) as [ProblemCode, ...ProblemCode[]]) }),
      response: { 200: ProblemType },
    },
  }, async (request) => {
    const code = request.params.code;
    return { code, status: PROBLEM_STATUS[code], title: PROBLEM_TITLES[code] };
  });
};
