import assert from 'node:assert/strict';
import { z } from 'zod';
import {
  formatZodIssues,
  zodIssueMessages,
  type ZodMessageOptions,
} from '../../src/domain/zod-messages';

const schema = z.object({
  name: z.string({ error: 'expected a name' }),
  size: z.number({ error: 'expected a number' }),
  items: z.array(z.object({ id: z.string({ error: 'expected an id' }) })),
});

function issuesOf(value: unknown): z.core.$ZodIssue[] {
  const parsed = schema.safeParse(value);
  if (parsed.success) throw new Error('expected the value to fail the schema');
  return parsed.error.issues;
}

const allBad = { items: [{ id: 1 }, { id: 'ok' }, { id: null }] };

describe('domain/zod-messages', () => {
  describe('formatZodIssues', () => {
    const cases: Array<{
      name: string;
      value: unknown;
      options: ZodMessageOptions;
      expected: string;
    }> = [
      {
        name: 'path: message for each issue, in order, joined by "; "',
        value: allBad,
        options: { root: 'input' },
        expected:
          'name: expected a name; size: expected a number; items.0.id: expected an id; ' +
          'items.2.id: expected an id',
      },
      {
        name: 'the root names the value itself (an empty path)',
        value: 'not an object',
        options: { root: 'body' },
        expected: 'body: Invalid input: expected object, received string',
      },
      {
        name: 'limit keeps the first issues',
        value: allBad,
        options: { root: 'inventory', limit: 2 },
        expected: 'name: expected a name; size: expected a number',
      },
      {
        name: 'limit 0: nothing',
        value: allBad,
        options: { root: 'input', limit: 0 },
        expected: '',
      },
      {
        name: 'a separator of its own',
        value: { items: [] },
        options: { root: 'input', separator: '\n' },
        expected: 'name: expected a name\nsize: expected a number',
      },
      {
        name: 'a label decorates the path, told the issue',
        value: { name: 'x', items: [] },
        options: {
          root: 'input',
          label: (path, issue) => `${path} (${issue.code})`,
        },
        expected: 'size (invalid_type): expected a number',
      },
      {
        name: 'the label sees the root for an empty path',
        value: 7,
        options: { root: 'record', label: (path) => `<${path}>` },
        expected: '<record>: Invalid input: expected object, received number',
      },
    ];
    for (const c of cases) {
      it(c.name, () => assert.equal(formatZodIssues(issuesOf(c.value), c.options), c.expected));
    }
  });

  describe('zodIssueMessages', () => {
    it('the same messages as a list', () => {
      assert.deepEqual(zodIssueMessages(issuesOf({ name: 'x', items: [{}] }), { root: 'env' }), [
        'size: expected a number',
        'items.0.id: expected an id',
      ]);
    });

    it('no issues: no messages', () => {
      assert.deepEqual(zodIssueMessages([], { root: 'env' }), []);
      assert.equal(formatZodIssues([], { root: 'env' }), '');
    });

    it('a symbol in a path is written, not thrown on', () => {
      const issue: z.core.$ZodIssue = {
        code: 'custom',
        path: ['a', Symbol('s'), 1],
        message: 'bad',
        input: undefined,
      };
      assert.deepEqual(zodIssueMessages([issue], { root: 'input' }), ['a.Symbol(s).1: bad']);
    });
  });
});
