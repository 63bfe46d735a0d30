import assert from 'node:assert/strict';
import { parseSignatureHeader, SIGNATURE_HEADER } from '../../src/domain/signed-groups';
import { drawEvents } from '../../src/domain/generator';
import { SEED_ROWS } from '../../src/domain/seed-fixture';
import { TABLES } from '../../src/domain/tables';
import { offsetsOf, readBack, recordCount, startApiHarness, type ApiHarness } from './harness';

describe('ingest API produce (REST Proxy v2) against the local Kafka', function () {
  this.timeout(120_000);
  let h: ApiHarness;

  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('produces every record and answers with its partition and offset, in request order', async () => {
    const pins = [...drawEvents({ seed: 'api-test', count: 6 })].map((e) => e.pin);
    const reply = await h.post(`/topics/${h.topics.pin}`, {
      records: pins.map((value) => ({ value })),
    });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.headers.get('content-type'), 'application/vnd.kafka.v2+json');
    assert.deepEqual(Object.keys(reply.body as object), [
      'offsets',
      'key_schema_id',
      'value_schema_id',
    ]);
    const offsets = offsetsOf(reply);
    assert.equal(offsets.length, pins.length);
    for (const entry of offsets) {
      assert.equal(entry.error_code, null);
      assert.equal(entry.error, null);
      assert.ok(
        Number.isInteger(entry.partition) && Number.isInteger(entry.offset),
        JSON.stringify(entry),
      );
    }
    const stored = await readBack(
      h.kafka,
      h.topics.pin,
      offsets.map((o) => ({ partition: o.partition!, offset: o.offset! })),
    );
    const signedRuns = new Map<number, number>(); // partition → records its claims cover
    offsets.forEach((o, i) => {
      const record = stored.get(`${o.partition}:${o.offset}`);
      assert.ok(record, `nothing at ${o.partition}:${o.offset}`);
      assert.equal(record.value, JSON.stringify(pins[i]));
      assert.equal(record.key, null);
      // The only header: a run's signature on its first record (PINPIPE_SIGNING_KEY), which no
      // producer without the key can make verify (test/integration/signed-records.test.ts).
      const { [SIGNATURE_HEADER]: signature, ...others } = record.headers;
      assert.deepEqual(others, {});
      const claim = parseSignatureHeader(signature);
      if (signature !== undefined) assert.ok(claim, signature);
      if (claim) signedRuns.set(o.partition!, (signedRuns.get(o.partition!) ?? 0) + claim.count);
    });
    // Every record the API validated is in a signed run of its partition.
    const perPartition = new Map<number, number>();
    for (const o of offsets)
      perPartition.set(o.partition!, (perPartition.get(o.partition!) ?? 0) + 1);
    assert.deepEqual(signedRuns, perPartition);
  });

  it('stores keys JSON-serialised, honours explicit partitions and the partition route', async () => {
    const [event] = [...drawEvents({ seed: 'keys', count: 1 })];
    const reply = await h.post(`/topics/${h.topics.user}`, {
      records: [
        { key: 'user-1', value: event!.user, partition: 2 },
        { key: { ind: event!.ind }, value: event!.user },
        { key: { ind: event!.ind }, value: event!.user },
      ],
    });
    const offsets = offsetsOf(reply);
    assert.equal(offsets[0]!.partition, 2);
    assert.equal(offsets[1]!.partition, offsets[2]!.partition, 'one key, one partition');
    assert.equal(offsets[2]!.offset, offsets[1]!.offset! + 1);
    const stored = await readBack(
      h.kafka,
      h.topics.user,
      offsets.map((o) => ({ partition: o.partition!, offset: o.offset! })),
    );
    assert.equal(stored.get(`2:${offsets[0]!.offset}`)?.key, '"user-1"');
    assert.equal(
      stored.get(`${offsets[1]!.partition}:${offsets[1]!.offset}`)?.key,
      JSON.stringify({ ind: event!.ind }),
    );

    const routed = offsetsOf(
      await h.post(`/topics/${h.topics.user}/partitions/1`, {
        records: [{ value: event!.user, partition: 0 }],
      }),
    );
    assert.equal(routed[0]!.partition, 1, 'the path partition wins');
    const missing = await h.post(`/topics/${h.topics.user}/partitions/3`, {
      records: [{ value: event!.user }],
    });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, {
      error_code: 40402,
      message: `Partition 3 of topic ${h.topics.user} not found`,
    });
  });

  for (const table of TABLES) {
    it(`accepts every seed fixture ${table} row verbatim`, async () => {
      const values = SEED_ROWS.map((row) => row.raw[table]);
      const offsets = offsetsOf(
        await h.post(
          `/topics/${h.topics[table]}`,
          { records: values.map((value) => ({ value })) },
          { 'content-type': 'application/json; charset=utf-8' },
        ),
      );
      assert.deepEqual(
        offsets.map((o) => o.error),
        values.map(() => null),
      );
      const stored = await readBack(
        h.kafka,
        h.topics[table],
        offsets.map((o) => ({ partition: o.partition!, offset: o.offset! })),
      );
      offsets.forEach((o, i) => {
        const value = stored.get(`${o.partition}:${o.offset}`)?.value;
        assert.equal(value, JSON.stringify(values[i]));
        assert.deepEqual(
          JSON.parse(value ?? 'null'),
          values[i],
          'multilingual text survives UTF-8 round trip',
        );
      });
    });
  }

  it('produces the valid records of a mixed request and refuses each invalid one by name', async () => {
    const [a, b] = [...drawEvents({ seed: 'mixed', count: 2 })];
    const before = await recordCount(h.kafka, h.topics.geo);
    const records = [
      { value: a!.geo },
      { value: { ...a!.geo, ind: 'seven' } },
      { value: b!.geo },
      { value: null },
      { value: { ...b!.geo, latitude: undefined } },
      { value: b!.pin }, // a pin posted to the geo topic
    ];
    const offsets = offsetsOf(await h.post(`/topics/${h.topics.geo}`, { records }));
    assert.equal(offsets.length, records.length);
    for (const i of [0, 2]) {
      assert.equal(offsets[i]!.error_code, null);
      assert.ok(Number.isInteger(offsets[i]!.offset));
    }
    for (const i of [1, 3, 4, 5]) {
      assert.equal(offsets[i]!.partition, null);
      assert.equal(offsets[i]!.offset, null);
      assert.equal(offsets[i]!.error_code, 1, 'non-retriable');
    }
    assert.match(offsets[1]!.error!, /^ind: expected integer, received string "seven"/);
    assert.match(
      offsets[3]!.error!,
      /^record: expected a JSON object \(geo record\), received null/,
    );
    assert.match(offsets[4]!.error!, /^latitude: missing/);
    assert.match(offsets[5]!.error!, /ind: missing/);
    assert.equal(
      await recordCount(h.kafka, h.topics.geo),
      before + 2,
      'exactly the valid records landed',
    );
    const stored = await readBack(
      h.kafka,
      h.topics.geo,
      [0, 2].map((i) => ({ partition: offsets[i]!.partition!, offset: offsets[i]!.offset! })),
    );
    assert.equal(
      stored.get(`${offsets[2]!.partition}:${offsets[2]!.offset}`)?.value,
      JSON.stringify(b!.geo),
    );
  });

  it('refuses values it could not store exactly: too deep, integers beyond 2^53', async () => {
    const [event] = [...drawEvents({ seed: 'exact', count: 1 })];
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100; i += 1) deep = [deep];
    const body = JSON.stringify({
      records: [{ value: { ...event!.user, extra: deep } }, { value: event!.user }],
    });
    const offsets = offsetsOf(await h.post(`/topics/${h.topics.user}`, body));
    assert.equal(offsets[0]!.error_code, 1);
    assert.match(offsets[0]!.error!, /^value\.extra(\.0)+: nested deeper than 64 levels/);
    assert.equal(offsets[1]!.error_code, null);

    const big = JSON.stringify({ records: [{ value: { ...event!.user, extra: 1 } }] }).replace(
      '"extra":1',
      '"extra":9007199254740993',
    );
    const bigOffsets = offsetsOf(await h.post(`/topics/${h.topics.user}`, big));
    assert.equal(bigOffsets[0]!.error_code, 1);
    assert.match(bigOffsets[0]!.error!, /^value\.extra: integer beyond/);
  });
});

describe('ingest API: numbers the raw zone cannot keep (local Kafka)', function () {
  this.timeout(60_000);
  let h: ApiHarness;

  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('refuses each record holding 1e400, -0 or a 30-digit decimal, and stores the rest as sent', async () => {
    const [a, b] = [...drawEvents({ seed: 'numbers', count: 2 })];
    const text = (v: unknown) => JSON.stringify(v);
    // Raw text: these numbers never survive JSON.stringify, so the body is written by hand.
    const geoWith = (extra: string) => text(a!.geo).replace(/}$/, `,"extra":${extra}}`);
    const records = [
      `{"value":${geoWith('1e400')}}`,
      `{"value":${text(a!.geo)}}`,
      `{"value":${geoWith('-0')}}`,
      `{"value":${geoWith('123456789012345678901234567890.5')}}`,
      `{"value":${geoWith('[1.5, 0.1, -0.25, 1E3]')}}`,
      `{"key":-0,"value":${text(b!.geo)}}`,
    ];
    const before = await recordCount(h.kafka, h.topics.geo);
    const offsets = offsetsOf(
      await h.post(`/topics/${h.topics.geo}`, `{"records":[${records.join(',')}]}`),
    );
    const reasons = offsets.map((o) => o.error);
    assert.match(reasons[0]!, /^value\.extra: 1e400 is beyond the range of a 64-bit float/);
    assert.match(reasons[2]!, /^value\.extra: -0 is negative zero: it would be stored as 0/);
    assert.match(
      reasons[3]!,
      /^value\.extra: 123456789012345678901234567890\.5 has more digits than a 64-bit float keeps/,
    );
    assert.match(reasons[5]!, /^key: -0 is negative zero/);
    for (const i of [0, 2, 3, 5]) assert.equal(offsets[i]!.error_code, 1);
    for (const i of [1, 4]) assert.equal(offsets[i]!.error_code, null, reasons[i]!);
    assert.equal(await recordCount(h.kafka, h.topics.geo), before + 2, 'only the exact ones');
    const stored = await readBack(
      h.kafka,
      h.topics.geo,
      [1, 4].map((i) => ({ partition: offsets[i]!.partition!, offset: offsets[i]!.offset! })),
    );
    const at = (i: number) => stored.get(`${offsets[i]!.partition}:${offsets[i]!.offset}`)?.value;
    assert.equal(at(1), text(a!.geo));
    // Exact numbers are kept as their value (1E3 is 1000), as JSON.stringify writes it.
    assert.equal(at(4), text({ ...a!.geo, extra: [1.5, 0.1, -0.25, 1000] }));
  });
});
