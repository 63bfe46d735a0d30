import assert from 'node:assert/strict';
import {
  assertPipelineId,
  bucketFor,
  CATEGORIES,
  isCategory,
  isPipelineId,
  isTable,
  parseTopic,
  tableOfTopic,
  TABLES,
  topicFor,
  topicsFor,
} from '../../src/domain/tables';

describe('domain/tables', () => {
  it('lists the three tables in posting order', () => {
    assert.deepEqual([...TABLES], ['pin', 'geo', 'user']);
    assert.equal(isTable('geo'), true);
    assert.equal(isTable('pins'), false);
    assert.equal(isTable(undefined), false);
  });

  describe('pipeline id', () => {
    const cases: [unknown, boolean][] = [
      ['0a1b2c3d4e5f', true],
      ['5eedcafe0001', true],
      ['0A1B2C3D4E5F', false], // uppercase
      ['0a1b2c3d4e5', false], // 11 chars
      ['0a1b2c3d4e5f0', false], // 13 chars
      ['0a1b2c3d4e5g', false], // not hex
      [' 0a1b2c3d4e5f', false],
      ['', false],
      [123456789012, false],
      [null, false],
    ];
    for (const [value, valid] of cases) {
      it(`${JSON.stringify(value)} is ${valid ? 'valid' : 'invalid'}`, () => {
        assert.equal(isPipelineId(value), valid);
        if (valid) assert.equal(assertPipelineId(value), value);
        else assert.throws(() => assertPipelineId(value), /invalid pipeline id.*12 lowercase hex/);
      });
    }
  });

  describe('topics', () => {
    const cases: [string, (typeof TABLES)[number], string][] = [
      ['0a1b2c3d4e5f', 'pin', '0a1b2c3d4e5f.pin'],
      ['0a1b2c3d4e5f', 'geo', '0a1b2c3d4e5f.geo'],
      ['5eedcafe0001', 'user', '5eedcafe0001.user'],
    ];
    for (const [id, table, topic] of cases) {
      it(`${id} + ${table} ⇄ ${topic}`, () => {
        assert.equal(topicFor(id, table), topic);
        assert.equal(tableOfTopic(topic), table);
        assert.deepEqual(parseTopic(topic), { pipelineId: id, table });
      });
    }

    it('lists all topics of a pipeline', () => {
      assert.deepEqual(topicsFor('5eedcafe0001'), [
        '5eedcafe0001.pin',
        '5eedcafe0001.geo',
        '5eedcafe0001.user',
      ]);
    });

    it('refuses a bad pipeline id or table', () => {
      assert.throws(() => topicFor('nope', 'pin'), /invalid pipeline id "nope"/);
      assert.throws(() => topicFor('0a1b2c3d4e5f', 'pins' as 'pin'), /invalid table "pins"/);
    });

    for (const topic of [
      '0a1b2c3d4e5f.pins',
      '0a1b2c3d4e5f',
      'x.pin',
      '0A1B2C3D4E5F.pin',
      '0a1b2c3d4e5f.pin.extra',
      '',
    ]) {
      it(`rejects the topic ${JSON.stringify(topic)}`, () => {
        assert.equal(parseTopic(topic), undefined);
        assert.throws(() => tableOfTopic(topic), /invalid topic/);
      });
    }
  });

  it('names the bucket user-<id>-bucket', () => {
    assert.equal(bucketFor('0a1b2c3d4e5f'), 'user-0a1b2c3d4e5f-bucket');
    assert.throws(() => bucketFor('0a1b2c3d4e5'), /invalid pipeline id/);
  });

  it('has the 13 categories of the source', () => {
    assert.equal(CATEGORIES.length, 13);
    assert.equal(new Set(CATEGORIES).size, 13);
    for (const category of [
      'education',
      'diy-and-crafts',
      'mens-fashion',
      'home-decor',
      'vehicles',
    ]) {
      assert.equal(isCategory(category), true, category);
    }
    assert.equal(isCategory('Education'), false);
    assert.equal(isCategory('food'), false);
  });
});
