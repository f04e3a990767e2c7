import type { FastifyInstance } from 'fastify';
import type { FieldError } from '../../shared/problems.ts';
import { AppError } from './errors.ts';

/**
 * Text PostgreSQL cannot store is refused at the edge, for every route and every field: a NUL
 * character (text columns refuse it) and an unpaired UTF-16 surrogate (jsonb refuses it, and text
 * columns would silently store U+FFFD in its place, so two different names could become one). The
 * answer is the usual 400 naming each field; nothing reaches a service.
 */

const MESSAGE = 'Contains a character that cannot be stored (a NUL or an unpaired surrogate)';

function storable(text: string): boolean {
  return text.isWellFormed() && !text.includes('\u0000');
}

/**
 * Field paths as the validation errors name them: `name`, `grants.0.groupId`, `query.q`. Walked
 * with a stack of its own, not recursion: a body may nest 20,000 arrays deep (JSON.parse takes it)
 * and must still get a 400, not overflow the call stack.
 */
function collect(root: unknown, rootPath: string, found: FieldError[]): void {
  const stack: Array<[unknown, string]> = [[root, rootPath]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (!storable(value)) found.push({ field: path || '(body)', code: 'invalid_characters', message: MESSAGE });
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push([item, path ? `${path}.${i}` : String(i)]));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (!storable(key)) found.push({ field: path || '(body)', code: 'invalid_characters', message: MESSAGE });
        else stack.push([item, path ? `${path}.${key}` : key]);
      }
    }
  }
}

export function registerTextGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const found: FieldError[] = [];
    collect(request.params, 'params', found);
    collect(request.query, 'query', found);
    collect(request.body, '', found);
    if (found.length > 0) throw new AppError('validation_failed', 'Some fields are invalid.', { errors: found });
  });
}
