import assert from 'node:assert/strict';
import {
  classifyConditionalWriteProbe,
  type ConditionalWriteProbe,
} from '../../src/domain/conditional-writes';

const probe = (
  first: ConditionalWriteProbe['first'],
  second?: ConditionalWriteProbe['second'],
): ConditionalWriteProbe => ({
  endpoint: 'http://127.0.0.1:7070',
  bucket: 'user-0a1b2c3d4e5f-bucket',
  key: '_pinpipe/probe/6d1c',
  first,
  ...(second ? { second } : {}),
});

describe('domain/conditional-writes: the probe verdict', () => {
  it('supported: the second conditional write refused with 412 (or 409)', () => {
    for (const second of [
      { status: 412, code: 'PreconditionFailed', message: 'At least one of the pre-conditions' },
      { status: 409, code: 'ConditionalRequestConflict' },
    ]) {
      const v = classifyConditionalWriteProbe(probe({ status: 200 }, second));
      assert.equal(v.support, 'supported');
      assert.equal(v.endpoint, 'http://127.0.0.1:7070');
      assert.match(v.message, /S3 endpoint http:\/\/127\.0\.0\.1:7070 honours If-None-Match: \*/);
      assert.match(v.message, new RegExp(`answered ${second.status} ${second.code}\\)$`));
    }
  });

  it('ignored: the second conditional write succeeded; names the server, its answer and the fix', () => {
    const v = classifyConditionalWriteProbe(probe({ status: 200 }, { status: 200 }));
    assert.equal(v.support, 'ignored');
    assert.match(
      v.message,
      /^S3 endpoint http:\/\/127\.0\.0\.1:7070 ignores If-None-Match: \*: a second conditional PUT of the existing object s3:\/\/user-0a1b2c3d4e5f-bucket\/_pinpipe\/probe\/6d1c answered 200 and replaced it/,
    );
    assert.match(v.message, /The sink will not run against it/);
    assert.match(v.message, /AWS_ENDPOINT_URL_S3/);
  });

  it('refused: 501 or NotImplemented, on the first or the second write', () => {
    const first = classifyConditionalWriteProbe(
      probe({
        status: 501,
        code: 'NotImplemented',
        message: 'A header you provided implies functionality that is not implemented',
      }),
    );
    assert.equal(first.support, 'refused');
    assert.match(
      first.message,
      /does not support conditional writes: a PUT of .* answered 501 NotImplemented: A header/,
    );
    const badRequest = classifyConditionalWriteProbe(
      probe({ status: 400, code: 'NotImplemented' }),
    );
    assert.equal(badRequest.support, 'refused');
    const second = classifyConditionalWriteProbe(probe({ status: 200 }, { status: 501 }));
    assert.equal(second.support, 'refused');
    assert.match(second.message, /on existing objects: a second PUT .* answered 501/);
  });

  it('error: no verdict when the server did not answer, denied access or answered oddly', () => {
    const down = classifyConditionalWriteProbe(
      probe({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:7070' }),
    );
    assert.equal(down.support, 'error');
    assert.match(
      down.message,
      /^could not probe conditional writes at S3 endpoint http:\/\/127\.0\.0\.1:7070: .* did not answer \(connect ECONNREFUSED/,
    );
    const denied = classifyConditionalWriteProbe(
      probe({ status: 403, code: 'AccessDenied', message: 'Access Denied' }),
    );
    assert.equal(denied.support, 'error');
    assert.match(denied.message, /answered 403 AccessDenied: Access Denied$/);
    const odd = classifyConditionalWriteProbe(
      probe({ status: 200 }, { status: 500, code: 'InternalError' }),
    );
    assert.equal(odd.support, 'error');
    assert.match(
      odd.message,
      /second conditional PUT .* answered 500 InternalError, where S3 answers 412/,
    );
    // A 412 on the first write of a new key is not evidence of anything.
    assert.equal(
      classifyConditionalWriteProbe(probe({ status: 412, code: 'PreconditionFailed' })).support,
      'error',
    );
    assert.equal(classifyConditionalWriteProbe(probe({ status: 200 })).support, 'error');
  });
});
