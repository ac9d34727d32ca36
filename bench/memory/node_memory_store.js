// Resident memory per session in express-session's MemoryStore, filled with the same small
// sessions as bench/memory/memory_store_rss.cpp (run with --expose-gc).
//   node --expose-gc bench/memory/node_memory_store.js N
'use strict';
const path = require('path');
const session = require(path.join(__dirname, '../../tests/interop/node_modules/express-session'));
const crypto = require('crypto');

const n = Number(process.argv[2] || 100000);
const store = new session.MemoryStore();
const expires = new Date(Date.now() + 86400000);
const ids = [];
for (let i = 0; i < n; i++) ids.push(crypto.randomBytes(24).toString('base64url'));
global.gc();
const before = process.memoryUsage().rss;
let pending = n;
for (let i = 0; i < n; i++) {
  // What express-session hands the store: the session with its cookie (serialised by the store).
  const sess = { cookie: { originalMaxAge: 86400000, expires, httpOnly: true, path: '/' }, count: 1 };
  store.set(ids[i], sess, () => {
    if (--pending === 0) {
      global.gc();
      const after = process.memoryUsage().rss;
      const recordBytes = JSON.stringify(sess).length;
      console.log(`sessions=${n} record_bytes=${recordBytes} rss_bytes=${after - before} bytes_per_session=${((after - before) / n).toFixed(1)}`);
    }
  });
}
