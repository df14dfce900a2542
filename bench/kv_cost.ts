/**
 * KV operations per request, counted in-process: the real app (`createApp`) over an in-memory
 * KV wrapped by the tests' `countingKv`, driven through `app.request()` with a movable clock.
 *
 * The claim it checks (README, "Sliding renewal with bounded writes"): an authenticated read
 * between renewals costs exactly one KV read and no write; a renewal costs one more read and one
 * write, once.
 *
 * Run alone: `deno run --allow-read bench/kv_cost.ts`
 *
 * @module
 */
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import type { Logger } from "../src/logger.ts";
import { createPasswordHasher, TEST_SCRYPT_PARAMS } from "../src/passwords.ts";
import { DEMO_CATALOGUE, seedCatalogue } from "../src/products.ts";
import { loadStaticFiles } from "../src/static_files.ts";
import { sessionUser } from "../src/auth.ts";
import { countingKv, fakeClock } from "../tests/_helpers.ts";
import { BENCH_USER, OUR_COOKIE } from "./_seed.ts";

/** KV operations per request for one kind of request. */
export interface KvCostRow {
  /** What was requested. */
  label: string;
  /** Requests made. */
  requests: number;
  /** Status of the last response. */
  status: number;
  /** KV reads per request. */
  readsPerRequest: number;
  /** KV writes per request. */
  writesPerRequest: number;
}

const SILENT: Logger = { info() {}, error() {} };
const ORIGIN = "http://127.0.0.1:8000";

/** Counts KV reads and writes for `requests` requests of each kind. */
export async function measureKvCost(requests = 1000): Promise<KvCostRow[]> {
  const raw = await Deno.openKv(":memory:");
  try {
    const { kv, counts, reset } = countingKv(raw);
    const clock = fakeClock(Date.now());
    const config = loadConfig({ KV_PATH: ":memory:" }, "production");
    const staticDir = decodeURIComponent(new URL("../static/", import.meta.url).pathname);
    await seedCatalogue(raw);
    const { app, services } = createApp({
      kv,
      config,
      now: clock.now,
      staticFiles: await loadStaticFiles(staticDir),
      hasher: createPasswordHasher({ params: TEST_SCRYPT_PARAMS }),
      logger: SILENT,
    });
    const hasher = createPasswordHasher({ params: TEST_SCRYPT_PARAMS });
    const user = await services.users.create({
      username: BENCH_USER.username,
      displayName: BENCH_USER.displayName,
      passwordHash: await hasher.hash(BENCH_USER.password),
    });
    const { token } = await services.sessions.create({
      userId: user.id,
      credentialVersion: await services.sessions.credentialVersion(user.id),
      data: { user: sessionUser(user), cart: [] },
      userAgent: "bench",
    });
    const cookie = `${OUR_COOKIE}=${token}`;

    const count = async (
      label: string,
      n: number,
      path: string,
      init: (i: number) => RequestInit = () => ({}),
    ): Promise<KvCostRow> => {
      reset();
      let status = 0;
      for (let i = 0; i < n; i++) {
        const response = await app.request(`${ORIGIN}${path}`, init(i));
        await response.body?.cancel();
        status = response.status;
      }
      return {
        label,
        requests: n,
        status,
        readsPerRequest: counts.reads / n,
        writesPerRequest: counts.writes / n,
      };
    };

    const rows: KvCostRow[] = [];
    const authed = () => ({ headers: { Cookie: cookie } });
    rows.push(
      await count("GET /dashboard, live session, between renewals", requests, "/dashboard", authed),
    );
    rows.push(
      await count("GET /api/cart, live session, between renewals", requests, "/api/cart", authed),
    );
    rows.push(await count("GET /dashboard without a cookie (redirect)", requests, "/dashboard"));
    // Past half of the idle window: the next request renews, the ones after it do not.
    clock.advance((config.idleTimeoutSeconds / 2 + 60) * 1000);
    rows.push(
      await count("GET /dashboard that renews the session (once)", 1, "/dashboard", authed),
    );
    rows.push(
      await count("GET /dashboard right after the renewal", requests, "/dashboard", authed),
    );
    rows.push(
      await count(
        "POST /api/cart (add to cart: a session write)",
        Math.min(requests, 200),
        "/api/cart",
        (i) => ({
          method: "POST",
          headers: {
            Cookie: cookie,
            "Content-Type": "application/json",
            "Sec-Fetch-Site": "same-origin",
          },
          body: JSON.stringify({
            productId: DEMO_CATALOGUE[i % DEMO_CATALOGUE.length]!.id,
            quantity: 1,
          }),
        }),
      ),
    );
    return rows;
  } finally {
    raw.close();
  }
}

if (import.meta.main) {
  for (const row of await measureKvCost()) {
    console.log(
      `${row.label}: ${row.readsPerRequest} reads, ${row.writesPerRequest} writes per request ` +
        `(${row.requests} requests, last status ${row.status})`,
    );
  }
}
