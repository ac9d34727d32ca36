// The seed's Express app, configurable by environment, for the interop tests and the
// side-by-side benchmark. It mirrors sessionkit-example: same routes, secret and cookie name.
//
//   PORT            port on 127.0.0.1 (default 3001; 0 picks a free one)
//   REDIS_URL       connect-redis on this Redis; unset: express-session's MemoryStore
//   REDIS_CLUSTER   connect-redis on this Redis Cluster, through node-redis's cluster client:
//                   seed nodes as "host:port,host:port" (instead of REDIS_URL)
//   SECRETS         JSON array of secrets, first signs (default: the seed's secret)
//   ROLLING, RESAVE, SAVE_UNINITIALIZED   "true" / "false" (defaults false, false, true)
//   MAX_AGE         cookie maxAge in ms (default: none, a browser-session cookie)
//   COOKIE_NAME     (default connect.sid)
//   SECURE          cookie.secure: "true" / "false" / "auto" (default: unset)
//   SAME_SITE       cookie.sameSite: "lax" / "strict" / "none" (strings) or "true" / "false"
//                   (booleans) (default: unset)
//   HTTP_ONLY       cookie.httpOnly: "true" / "false" (default: express-session's, true)
//   DOMAIN          cookie.domain (default: unset)
//   COOKIE_PATH     cookie.path (default: express-session's, "/")
//   PRIORITY        cookie.priority: "low" / "medium" / "high" (default: unset)
//   PARTITIONED     cookie.partitioned: "true" / "false" (default: unset)
//   PROXY           "true": proxy: true and app.set('trust proxy', 1); "false": proxy: false
//                   (default: unset, express-session defers to Express's req.secure)
//   TRUST_PROXY     "true": app.set('trust proxy', 1) alone (express-session's proxy unset)
// Every variable left unset leaves the option out, so express-session's own default applies
// (e.g. no "secure" key in the stored cookie unless SECURE is given).
'use strict';

const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const { createClient, createCluster } = require('redis');

const env = process.env;
const flag = (name, fallback) => (env[name] === undefined ? fallback : env[name] === 'true');

async function main() {
  const app = express();
  app.disable('x-powered-by');
  if (env.PROXY === 'true' || env.TRUST_PROXY === 'true') app.set('trust proxy', 1);

  // The framework's floor: no session middleware on this route.
  app.get('/no-session', (req, res) => res.send('no session'));

  let store;
  if (env.REDIS_URL) {
    const client = createClient({ url: env.REDIS_URL });
    client.on('error', (err) => console.error('redis error:', err.message));
    await client.connect();
    store = new RedisStore({ client });
  } else if (env.REDIS_CLUSTER) {
    const rootNodes = env.REDIS_CLUSTER.split(',').map((node) => ({ url: 'redis://' + node }));
    const client = createCluster({ rootNodes });
    client.on('error', (err) => console.error('redis cluster error:', err.message));
    await client.connect();
    store = new RedisStore({ client });
  }

  const cookie = {};
  if (env.MAX_AGE) cookie.maxAge = Number(env.MAX_AGE);
  if (env.SECURE !== undefined) cookie.secure = env.SECURE === 'auto' ? 'auto' : env.SECURE === 'true';
  if (env.SAME_SITE !== undefined) {
    cookie.sameSite = env.SAME_SITE === 'true' ? true : env.SAME_SITE === 'false' ? false : env.SAME_SITE;
  }
  if (env.HTTP_ONLY !== undefined) cookie.httpOnly = env.HTTP_ONLY === 'true';
  if (env.DOMAIN !== undefined) cookie.domain = env.DOMAIN;
  if (env.COOKIE_PATH !== undefined) cookie.path = env.COOKIE_PATH;
  if (env.PRIORITY !== undefined) cookie.priority = env.PRIORITY;
  if (env.PARTITIONED !== undefined) cookie.partitioned = env.PARTITIONED === 'true';
  app.use(session({
    store,
    secret: env.SECRETS ? JSON.parse(env.SECRETS) : 'Rs89I67YEA55cLMgi0t6oyr8568e6KtD',
    name: env.COOKIE_NAME || 'connect.sid',
    resave: flag('RESAVE', false),
    saveUninitialized: flag('SAVE_UNINITIALIZED', true),
    rolling: flag('ROLLING', false),
    proxy: env.PROXY === undefined ? undefined : env.PROXY === 'true',
    cookie,
  }));

  const counter = (req, res) => {
    const s = req.session;
    if (s && s.count) s.count++;
    else s.count = 1;
    res.send('count is ' + s.count);
  };
  app.get('/memory-store-counter', counter);
  app.get('/redis-store-counter', counter);
  app.get('/radis-store-counter', counter);

  // Reads without modifying (resave false: a touch, no save).
  app.get('/session-read', (req, res) => res.send('count is ' + (req.session.count || 0)));

  app.get('/session-destroy', (req, res) => {
    req.session.destroy(() => res.send('Session Destroyed!'));
  });

  // For interop tests: merge a JSON object into the session / show the session's data.
  app.post('/session-data', express.json({ limit: '1mb' }), (req, res) => {
    Object.assign(req.session, req.body);
    res.json({ ok: true });
  });
  app.get('/session-data', (req, res) => {
    const data = { ...req.session };
    delete data.cookie;
    res.json(data);
  });

  // For interop tests: what connect-redis's own all() and length() see in the store.
  app.get('/store-sessions', (req, res) => {
    req.sessionStore.length((err, length) => {
      if (err) return res.status(500).send(String(err));
      req.sessionStore.all((err2, all) => {
        if (err2) return res.status(500).send(String(err2));
        res.json({ length, ids: (all || []).map((s) => s.id) });
      });
    });
  });

  const server = app.listen(Number(env.PORT || 3001), '127.0.0.1', () => {
    console.log('node-example listening on http://127.0.0.1:' + server.address().port);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
