"use strict";
/**
 * Peer for bench/run.ts: Express 5 with express-session and its default MemoryStore, written
 * to the same routes as our server, configured the way its README recommends (resave: false,
 * saveUninitialized: false, regenerate on login against fixation, httpOnly + SameSite=Lax).
 *
 * Usage: `PORT=8001 HOST=127.0.0.1 node bench/peers/express_server.cjs`
 * (after `npm ci` in bench/peers; the runner does that when node_modules is missing)
 */
const express = require("express");
const session = require("express-session");
const process = require("node:process");

const users = new Map([["bench", { password: "bench-password", name: "Bench User" }]]);

const app = express();
app.disable("x-powered-by");
app.use(session({
  name: "sid",
  secret: "bench-only-secret-not-for-production",
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, sameSite: "lax", maxAge: 24 * 60 * 60 * 1000 },
}));

// Unsafe methods must come from our own origin, as in our server and the seed peer.
app.use((req, res, next) => {
  if (req.method === "GET" || req.method === "HEAD") return next();
  const site = req.get("sec-fetch-site");
  const ok = site !== undefined
    ? site === "same-origin" || site === "none"
    : req.get("origin") === `${req.protocol}://${req.get("host")}`;
  if (ok) return next();
  res.status(403).type("text").send("forbidden");
});

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function requireAuth(req, res, next) {
  if (req.session.user) {
    res.set("Cache-Control", "no-store");
    return next();
  }
  if (req.originalUrl.startsWith("/api/")) {
    return res.status(401).json({ error: "unauthorized" });
  }
  res.redirect(303, "/login");
}

app.get("/healthz", (_req, res) => res.type("text").send("ok"));

app.post("/login", express.urlencoded({ extended: false, limit: "64kb" }), (req, res, next) => {
  const { username, password } = req.body ?? {};
  const user = users.get(username);
  if (!user || user.password !== password) {
    return res.status(401).type("html").send("<p>Invalid credentials</p>");
  }
  req.session.regenerate((error) => {
    if (error) return next(error);
    req.session.user = { username, name: user.name };
    req.session.cart = [];
    res.redirect(303, "/dashboard");
  });
});

app.get("/dashboard", requireAuth, (req, res) => {
  const { user, cart } = req.session;
  const items = cart.reduce((sum, line) => sum + line.quantity, 0);
  res.type("html").send(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dashboard</title></head>` +
      `<body><main><h1>Welcome, ${escapeHtml(user.name)}!</h1><p>You are signed in as <strong>${
        escapeHtml(user.username)
      }</strong>.</p><p>Your cart holds ${items} items.</p></main></body></html>`,
  );
});

app.get("/api/cart", requireAuth, (req, res) => res.json({ items: req.session.cart }));

app.post("/api/cart", requireAuth, express.json({ limit: "64kb" }), (req, res) => {
  const productId = String(req.body?.productId);
  const quantity = Number.isInteger(req.body?.quantity) ? req.body.quantity : 1;
  const cart = req.session.cart;
  const line = cart.find((l) => l.productId === productId);
  if (line) line.quantity += quantity;
  else cart.push({ productId, quantity });
  res.json({ items: cart });
});

const server = app.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? "127.0.0.1", () => {
  console.error(`express peer on ${JSON.stringify(server.address())}`);
});
server.keepAliveTimeout = 65_000;
process.on("SIGTERM", () => server.close(() => process.exit(0)));
