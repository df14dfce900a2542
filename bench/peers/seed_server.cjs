"use strict";
/**
 * Peer for bench/run.ts: the seed tutorial's design (shared/seed, "How Cookies and Sessions
 * Work") on plain node:http, written to the same routes as our server.
 *
 * Kept as the tutorial writes it: split-based cookie parsing, a `Map` session store in process
 * memory keyed by a 64-hex-char id, expiry checked on read, a `setInterval` sweeper every minute,
 * plain-text password comparison. Additions only where the benchmark needs a route the tutorial
 * does not show: the cart (JSON API, data kept in the session), a same-origin check on unsafe
 * methods (so POST costs the same header checks as ours), and `GET /healthz`.
 *
 * Usage: `PORT=8001 HOST=127.0.0.1 node bench/peers/seed_server.cjs`
 */
const crypto = require("node:crypto");
const http = require("node:http");
const process = require("node:process");

// ---- session.js, as in the tutorial ------------------------------------------------------

function parseCookies(req) {
  const cookieHeader = req.headers.cookie || "";
  const cookies = {};
  cookieHeader.split(";").forEach((pair) => {
    const [key, ...vals] = pair.trim().split("=");
    if (key) cookies[key.trim()] = decodeURIComponent(vals.join("="));
  });
  return cookies;
}

function setCookie(res, name, value, options = {}) {
  const parts = [`${name}=${encodeURIComponent(value)}`];
  if (options.maxAge) parts.push(`Max-Age=${options.maxAge}`);
  if (options.path) parts.push(`Path=${options.path}`);
  if (options.httpOnly) parts.push("HttpOnly");
  if (options.secure) parts.push("Secure");
  if (options.sameSite) parts.push(`SameSite=${options.sameSite}`);
  res.setHeader("Set-Cookie", parts.join("; "));
}

// sessionId -> { data, createdAt, expiresAt }
const sessions = new Map();
const SESSION_COOKIE = "sid";
const SESSION_MAX_AGE = 60 * 60 * 24; // 24 hours in seconds

function createSession(res, data = {}) {
  const sessionId = crypto.randomBytes(32).toString("hex");
  const now = Date.now();
  sessions.set(sessionId, { data, createdAt: now, expiresAt: now + SESSION_MAX_AGE * 1000 });
  setCookie(res, SESSION_COOKIE, sessionId, {
    maxAge: SESSION_MAX_AGE,
    httpOnly: true,
    sameSite: "Lax",
    path: "/",
  });
  return sessionId;
}

function getSession(req) {
  const cookies = parseCookies(req);
  const sessionId = cookies[SESSION_COOKIE];
  if (!sessionId) return null;
  const session = sessions.get(sessionId);
  if (!session) return null;
  if (Date.now() > session.expiresAt) {
    sessions.delete(sessionId);
    return null;
  }
  return session.data;
}

// Cleanup expired sessions periodically
setInterval(() => {
  const now = Date.now();
  for (const [id, session] of sessions) {
    if (now > session.expiresAt) sessions.delete(id);
  }
}, 60_000);

// ---- handlers --------------------------------------------------------------------------------

const users = new Map([["bench", { password: "bench-password", name: "Bench User" }]]);
const MAX_BODY_BYTES = 64 * 1024;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("body too large"));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sameOrigin(req) {
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined) return site === "same-origin" || site === "none";
  return req.headers.origin === `http://${req.headers.host}`;
}

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { "Content-Type": type, ...headers });
  res.end(body);
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function handleLogin(req, res) {
  const params = new URLSearchParams(await readBody(req));
  const username = params.get("username");
  const user = users.get(username);
  if (!user || user.password !== params.get("password")) {
    send(res, 401, "text/html", "<p>Invalid credentials</p>");
    return;
  }
  createSession(res, { username, name: user.name, cart: [] });
  res.writeHead(303, { Location: "/dashboard" });
  res.end();
}

function handleDashboard(req, res) {
  const { name, username, cart } = req.session;
  const items = cart.reduce((sum, line) => sum + line.quantity, 0);
  send(
    res,
    200,
    "text/html; charset=utf-8",
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dashboard</title></head>` +
      `<body><main><h1>Welcome, ${escapeHtml(name)}!</h1><p>You are signed in as <strong>${
        escapeHtml(username)
      }</strong>.</p><p>Your cart holds ${items} items.</p></main></body></html>`,
    { "Cache-Control": "no-store" },
  );
}

function handleCart(req, res) {
  send(res, 200, "application/json", JSON.stringify({ items: req.session.cart }), {
    "Cache-Control": "no-store",
  });
}

async function handleAddToCart(req, res) {
  let body;
  try {
    body = JSON.parse(await readBody(req));
  } catch {
    send(res, 400, "application/json", '{"error":"bad_request"}');
    return;
  }
  const productId = String(body.productId);
  const quantity = Number.isInteger(body.quantity) ? body.quantity : 1;
  const cart = req.session.cart;
  const line = cart.find((l) => l.productId === productId);
  if (line) line.quantity += quantity;
  else cart.push({ productId, quantity });
  send(res, 200, "application/json", JSON.stringify({ items: cart }), {
    "Cache-Control": "no-store",
  });
}

function requireAuth(handler) {
  return function (req, res) {
    const session = getSession(req);
    if (!session) {
      if (req.url.startsWith("/api/")) {
        send(res, 401, "application/json", '{"error":"unauthorized"}');
      } else {
        res.writeHead(303, { Location: "/login" });
        res.end();
      }
      return;
    }
    req.session = session;
    return handler(req, res);
  };
}

const routes = new Map([
  ["GET /healthz", (_req, res) => send(res, 200, "text/plain", "ok")],
  ["POST /login", handleLogin],
  ["GET /dashboard", requireAuth(handleDashboard)],
  ["GET /api/cart", requireAuth(handleCart)],
  ["POST /api/cart", requireAuth(handleAddToCart)],
]);

const server = http.createServer((req, res) => {
  const path = req.url.split("?", 1)[0];
  const route = routes.get(`${req.method} ${path}`);
  if (!route) return send(res, 404, "text/plain", "not found");
  if (req.method === "POST" && !sameOrigin(req)) return send(res, 403, "text/plain", "forbidden");
  Promise.resolve(route(req, res)).catch((error) => {
    console.error(error);
    if (!res.headersSent) send(res, 500, "text/plain", "error");
  });
});

server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? "127.0.0.1", () => {
  console.error(`seed peer on ${JSON.stringify(server.address())}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
