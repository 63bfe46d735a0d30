import {
  type Connection,
  type ConnectionOptions,
  ConnectionPool,
  UnexpectedCorrelationIdError,
} from '@platformatic/kafka';
import { FetchDecodeError, messageOf } from './fetch-response';

/** No answer to a request of this reader is shorter (a correlation id and a few fields). */
const MIN_FRAME_BYTES = 8;

/** Why a guarded connection was dropped, when it was for the bytes it received. */
export const droppedFor = new WeakMap<Connection, FetchDecodeError>();

/**
 * A ConnectionPool whose connections check each response frame's size as it arrives. The
 * library's connection trusts the size (it reads a correlation id that is not there when the
 * size is under 4, throwing from its socket handler: an uncaught exception; it buffers a size of
 * 2^31 − 1 until the request times out) and has no cap. It has no hook either, so its socket's
 * 'data' listener is put behind one of ours: a frame size outside [MIN_FRAME_BYTES,
 * maxResponseBytes] drops the connection at once, and nothing the listener throws escapes.
 */
export function guardedPool(
  clientId: string,
  options: ConnectionOptions,
  maxResponseBytes: number,
): ConnectionPool {
  const pool = new ConnectionPool(clientId, options);
  pool.on('connecting', ({ connection }) => {
    // The library emits 'error' on a connection whose socket fails, and the pool listens only
    // once: a second one, unheard, would throw from the socket's handler.
    connection.on('error', (err: Error) => {
      // The library drops a connection that answers an unknown correlation id (a frame that
      // lied about its size, or bytes out of place): malformed, not a network failure.
      if (err.cause instanceof UnexpectedCorrelationIdError && !droppedFor.has(connection)) {
        droppedFor.set(connection, new FetchDecodeError(err.cause.message));
      }
    });
    // The socket exists once connect() returns (right after this event), and the library adds
    // its 'data' listener on the socket's connect event, a later turn: ours comes right after.
    process.nextTick(() =>
      connection.socket?.once(options.tls ? 'secureConnect' : 'connect', () =>
        checkFrames(connection, maxResponseBytes),
      ),
    );
  });
  return pool;
}

function checkFrames(connection: Connection, maxFrameBytes: number): void {
  const socket = connection.socket;
  const library = socket.listeners('data') as ((chunk: Buffer) => void)[];
  socket.removeAllListeners('data');
  const size = Buffer.alloc(4);
  let have = 0; // bytes of the next frame's size seen so far
  let left = 0; // bytes of the current frame still to come
  const refuse = (error: FetchDecodeError) => {
    droppedFor.set(connection, error);
    socket.destroy(error);
  };
  const forward = (chunk: Buffer) => {
    try {
      for (const listener of library) listener.call(socket, chunk);
    } catch (err) {
      refuse(new FetchDecodeError(`the Kafka client failed on a response: ${messageOf(err)}`));
    }
  };
  socket.on('data', (chunk: Buffer) => {
    if (socket.destroyed) return;
    for (let at = 0; at < chunk.length;) {
      if (left > 0) {
        const n = Math.min(left, chunk.length - at);
        left -= n;
        at += n;
        continue;
      }
      size[have++] = chunk[at++]!;
      if (have < 4) continue;
      have = 0;
      left = size.readInt32BE(0);
      if (left < MIN_FRAME_BYTES || left > maxFrameBytes) {
        // The frames before this one are whole: the library answers their requests first.
        if (at > 4) forward(chunk.subarray(0, at - 4));
        refuse(
          new FetchDecodeError(
            left < MIN_FRAME_BYTES
              ? `a response frame of ${left} bytes, too short for any response`
              : `a response frame of ${left} bytes, over maxResponseBytes (${maxFrameBytes})`,
          ),
        );
        return;
      }
    }
    forward(chunk);
  });
}
