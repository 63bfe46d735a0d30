// Health check for the local Kafka broker with no dependencies: sends a real ApiVersions request
// (api key 18, v0) and a Metadata request (api key 3, v4; Kafka 4 dropped v0-v3) over TCP and exits 0 only when the broker
// answers both with error code 0 and lists at least one broker. Usage: node kafka-ping.cjs host:port
'use strict';
const net = require('node:net');
const [host, port] = (process.argv[2] || '127.0.0.1:9092').split(':');

function frame(apiKey, apiVersion, correlationId, body) {
  const clientId = Buffer.from('pinpipe-stack');
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(clientId.length, 8);
  const payload = Buffer.concat([header, clientId, body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, payload]);
}

const socket = net.connect({ host, port: Number(port) });
const timer = setTimeout(() => fail('timeout'), 3000);
let buf = Buffer.alloc(0);
const answers = [];
function fail(why) {
  console.error(`kafka not ready: ${why}`);
  process.exit(1);
}
socket.on('error', (e) => fail(e.message));
socket.on('connect', () => {
  socket.write(frame(18, 0, 1, Buffer.alloc(0)));
  const body = Buffer.alloc(5);
  body.writeInt32BE(-1, 0); // topics: null array = all topics
  body.writeInt8(0, 4); // allow_auto_topic_creation: false
  socket.write(frame(3, 4, 2, body));
});
socket.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
    const size = buf.readInt32BE(0);
    answers.push(buf.subarray(4, 4 + size));
    buf = buf.subarray(4 + size);
  }
  if (answers.length < 2) return;
  const apiVersionsError = answers[0].readInt16BE(4);
  const brokerCount = answers[1].readInt32BE(8); // after correlation id and throttle_time_ms
  clearTimeout(timer);
  socket.end();
  if (apiVersionsError !== 0) fail(`ApiVersions error ${apiVersionsError}`);
  if (brokerCount < 1) fail('no broker registered yet');
  process.exit(0);
});
