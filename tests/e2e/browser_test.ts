/**
 * End to end: Debian's Chromium, driven by puppeteer-core, walks a user's path through the real
 * server (a subprocess on a free port with a temporary KV file, production password hashing).
 *
 * Why puppeteer-core and not playwright-core: playwright-core (1.65) cannot even be imported
 * with this project's test permissions. At load time its bundled WSL check calls `os.homedir()`
 * and `os.release()` (`--allow-sys`) and `fs.existsSync("/proc/sys/fs/binfmt_misc/WSLInterop")`,
 * which Deno allows only under `--allow-all`. puppeteer-core runs with the narrow flags of
 * `deno task test`.
 *
 * Screenshots go to `tests/output/e2e/` on every run; `docs/screenshots/` (shown in the README)
 * is written only when its files are missing or `UPDATE_SCREENSHOTS=1`, so CI leaves the tree
 * clean.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import puppeteer, {
  type Browser,
  type BrowserContext,
  type Cookie,
  type Page,
} from "npm:puppeteer-core@25";
import { INVALID_CREDENTIALS_MESSAGE } from "../../src/auth.ts";
import { PROJECT_ROOT, startServer } from "./_server.ts";

/** Debian's Chromium; set `CHROMIUM_PATH` on other systems. */
const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];
const VIEWPORT = { width: 1100, height: 800 };
const OUTPUT_DIR = `${PROJECT_ROOT}tests/output/e2e`;
const DOCS_DIR = `${PROJECT_ROOT}docs/screenshots`;

const USERNAME = "alice";
const DISPLAY_NAME = "Alice Liddell";
const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "a brand new passphrase";
const WELCOME = `Welcome, ${DISPLAY_NAME}!`;

// Page functions below take `unknown` and cast: this file is type-checked with Deno's libraries,
// which do not include the DOM's.
type Rendered = { innerText: string };

/** The rendered text of the first element matching `selector`. */
function textOf(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (element: unknown) => (element as Rendered).innerText);
}

/** The rendered text of every element matching `selector`. */
function textsOf(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(
    selector,
    (elements: unknown[]) => elements.map((element) => (element as Rendered).innerText),
  );
}

/** The current value of the form field matching `selector`. */
function valueOf(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (element: unknown) => (element as { value: string }).value);
}

/** Replaces the value of the form field matching `selector`, typing like a user. */
async function fill(page: Page, selector: string, value: string): Promise<void> {
  await page.locator(selector).fill(value);
}

/** Clicks `selector` and waits for the navigation it starts (following redirects) to load. */
async function clickAndWait(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

/** Goes to `path` on the server and waits for the page to load. */
async function visit(page: Page, origin: string, path: string): Promise<void> {
  await page.goto(origin + path);
}

/** The path and query of the page's URL. */
function pathOf(page: Page): string {
  const url = new URL(page.url());
  return url.pathname + url.search;
}

/** The cookie named `name` in `context`'s cookie store, or undefined. */
async function cookieNamed(context: BrowserContext, name: string): Promise<Cookie | undefined> {
  return (await context.cookies()).find((cookie) => cookie.name === name);
}

/** Fills the sign-in form on screen and submits it; returns the status of the POST itself. */
async function submitLogin(page: Page, username: string, password: string): Promise<number> {
  await fill(page, "#username", username);
  await fill(page, "#password", password);
  const [post] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/login")),
    clickAndWait(page, 'form[action="/login"] button[type="submit"]'),
  ]);
  return post.status();
}

/** Clicks the navigation's "Sign out" button and waits for the sign-in page. */
async function signOut(page: Page): Promise<void> {
  await clickAndWait(page, 'header.site form[action="/logout"] button');
  strictEqual(new URL(page.url()).pathname, "/login");
}

/** Saves a full-page screenshot to tests/output/e2e, and to docs/screenshots when allowed. */
async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(OUTPUT_DIR, { recursive: true });
  const path = `${OUTPUT_DIR}/${name}.png`;
  await page.screenshot({ path: path as `${string}.png`, fullPage: true });
  const target = `${DOCS_DIR}/${name}.png`;
  const exists = await Deno.stat(target).then(() => true, () => false);
  if (!exists || Deno.env.get("UPDATE_SCREENSHOTS") === "1") {
    await Deno.mkdir(DOCS_DIR, { recursive: true });
    await Deno.copyFile(path, target);
  }
}

Deno.test("browser: a user signs up, shops, manages sessions and signs out", async (t) => {
  const server = await startServer();
  const { origin } = server;
  let serverStatus: Deno.CommandStatus | undefined;
  let browser: Browser | undefined;
  /** Runs a step and stops the walk at the first failure (later steps depend on it). */
  async function step(name: string, fn: () => Promise<void>): Promise<void> {
    if (!(await t.step(name, fn))) throw new Error(`Step failed: ${name}`);
  }
  try {
    // Puppeteer starts Chromium with a fresh temporary profile and deletes it on close().
    browser = await puppeteer.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      defaultViewport: VIEWPORT,
    });
    // Two isolated cookie jars: the user's browser (A) and another device (B).
    const contextA = await browser.createBrowserContext();
    const page = await contextA.newPage();
    const contextB = await browser.createBrowserContext();
    const pageB = await contextB.newPage();
    let token = "";

    await step("GET/POST /signup creates the account and lands on the dashboard", async () => {
      await visit(page, origin, "/signup");
      await fill(page, "#displayName", DISPLAY_NAME);
      await fill(page, "#username", USERNAME);
      await fill(page, "#password", PASSWORD);
      await clickAndWait(page, 'form[action="/signup"] button[type="submit"]');
      strictEqual(pathOf(page), "/dashboard");
      strictEqual(await textOf(page, "h1"), WELCOME);
    });

    await step("the browser stores sid as HttpOnly, SameSite=Lax, Path=/", async () => {
      const sid = await cookieNamed(contextA, "sid");
      ok(sid, "the browser holds a sid cookie");
      token = sid.value;
      ok(/^[A-Za-z0-9_-]{43}$/.test(token), `token is 43 base64url characters: ${token}`);
      strictEqual(sid.httpOnly, true);
      strictEqual(sid.sameSite, "Lax");
      strictEqual(sid.path, "/");
      strictEqual(sid.domain, "127.0.0.1", "a host-only cookie for the server's host");
      strictEqual(sid.secure, false, "--dev over plain http");
      strictEqual(sid.session, false, "persistent: Max-Age is set");
      // Max-Age equals the session's time left: the 24 h idle timeout (a minute of slack).
      const secondsLeft = sid.expires - Date.now() / 1000;
      ok(Math.abs(secondsLeft - 86_400) < 60, `expires in ${secondsLeft} s, not ~86400 s`);
      const visibleToScript = await page.evaluate(() =>
        (globalThis as unknown as { document: { cookie: string } }).document.cookie
      );
      ok(!visibleToScript.includes(token), "document.cookie must not expose the token");
      ok(!/(^|;\s*)sid=/.test(visibleToScript), `document.cookie shows sid: ${visibleToScript}`);
    });

    await step("POST /logout ends the session and deletes the cookie", async () => {
      await signOut(page);
      ok((await textOf(page, "main")).includes("You have been signed out."));
      strictEqual(await cookieNamed(contextA, "sid"), undefined);
    });

    await step("a signed-out visit to /cart goes to /login?next=/cart", async () => {
      await visit(page, origin, "/cart");
      strictEqual(pathOf(page), "/login?next=%2Fcart");
      strictEqual(await valueOf(page, 'input[name="next"]'), "/cart");
    });

    await step("POST /login with a wrong password shows the error and sets no cookie", async () => {
      strictEqual(await submitLogin(page, USERNAME, "not the password"), 401);
      strictEqual(await textOf(page, '[role="alert"]'), INVALID_CREDENTIALS_MESSAGE);
      strictEqual(await valueOf(page, "#username"), USERNAME, "username kept");
      strictEqual(await valueOf(page, "#password"), "", "password not echoed");
      strictEqual(await valueOf(page, 'input[name="next"]'), "/cart", "next kept");
      strictEqual(await cookieNamed(contextA, "sid"), undefined);
    });

    await step("POST /login lands on the page first asked for, with a new token", async () => {
      strictEqual(await submitLogin(page, USERNAME, PASSWORD), 303);
      strictEqual(pathOf(page), "/cart");
      ok((await textOf(page, "main")).includes("Your cart is empty."));
      const sid = await cookieNamed(contextA, "sid");
      ok(sid && sid.value !== token, "sign-in issues a fresh token");
      token = sid.value;
    });

    await step("POST /cart adds products and GET /cart shows the total", async () => {
      const add = async (productId: string, name: string, quantity: number) => {
        await visit(page, origin, "/products");
        await fill(page, `#qty-${productId}`, String(quantity));
        await clickAndWait(page, `form:has(#qty-${productId}) button[type="submit"]`);
        strictEqual(pathOf(page), "/cart");
        strictEqual(await textOf(page, ".flash"), `Added ${quantity} × ${name} to your cart.`);
      };
      await add("tea-green", "Sencha green tea", 2); // 2 × 12.50
      await add("mug", "Stoneware mug", 1); //          1 × 14.00
      const cells = await textsOf(page, "tbody td:not(:last-child)");
      deepStrictEqual(cells, [
        ...["Sencha green tea", "12.50", "2", "25.00"],
        ...["Stoneware mug", "14.00", "1", "14.00"],
      ]);
      strictEqual(await textOf(page, '[data-testid="cart-total"]'), "39.00");
    });

    await step("GET /dashboard counts the cart items (screenshot)", async () => {
      await visit(page, origin, "/dashboard");
      strictEqual(await textOf(page, "h1"), WELCOME);
      ok((await textOf(page, "main")).includes("Your cart holds 3 items."));
      await screenshot(page, "dashboard");
    });

    await step("GET /account lists a second browser's session (screenshot)", async () => {
      await visit(pageB, origin, "/login");
      strictEqual(await submitLogin(pageB, USERNAME, PASSWORD), 303);
      strictEqual(pathOf(pageB), "/dashboard");
      ok(await cookieNamed(contextB, "sid"), "context B is signed in");

      await visit(page, origin, "/account");
      strictEqual(await textOf(page, "h1"), "Account");
      strictEqual((await textsOf(page, "tr[data-session-id]")).length, 2);
      strictEqual((await textsOf(page, "tr[data-session-id] .tag")).length, 1, "this device");
      await screenshot(page, "account");
    });

    await step("'Sign out everywhere else' sends the other browser to /login", async () => {
      await clickAndWait(page, 'form[action="/account/logout-others"] button');
      strictEqual(pathOf(page), "/account");
      strictEqual(await textOf(page, ".flash"), "Signed out of 1 other session.");
      strictEqual((await textsOf(page, "tr[data-session-id]")).length, 1);

      await pageB.reload();
      strictEqual(pathOf(pageB), "/login?next=%2Fdashboard");
      ok(!(await textOf(pageB, "main")).includes(WELCOME));
      strictEqual(await cookieNamed(contextB, "sid"), undefined, "the dead cookie is deleted");
      // Context A is still signed in.
      await visit(page, origin, "/dashboard");
      strictEqual(await textOf(page, "h1"), WELCOME);
    });

    await step("POST /account/password changes the password and rotates the token", async () => {
      await visit(page, origin, "/account");
      await fill(page, "#currentPassword", PASSWORD);
      await fill(page, "#newPassword", NEW_PASSWORD);
      await clickAndWait(page, 'form[action="/account/password"] button');
      strictEqual(pathOf(page), "/account");
      strictEqual(
        await textOf(page, ".flash"),
        "Password changed. 0 other sessions were signed out.",
      );
      const sid = await cookieNamed(contextA, "sid");
      ok(sid && sid.value !== token, "the session moved to a new token");
      strictEqual(sid.httpOnly, true);
      strictEqual(sid.sameSite, "Lax");
    });

    await step("the back button after sign-out does not show the dashboard", async () => {
      await visit(page, origin, "/dashboard");
      strictEqual(await textOf(page, "h1"), WELCOME);
      await signOut(page);
      strictEqual(await cookieNamed(contextA, "sid"), undefined);
      await page.goBack();
      // Cache-Control: no-store makes Chromium refetch instead of showing its copy; without the
      // cookie that request is redirected to the sign-in page.
      strictEqual(pathOf(page), "/login?next=%2Fdashboard");
      strictEqual(await textOf(page, "h1"), "Sign in");
      ok(!(await textOf(page, "main")).includes(WELCOME));
    });

    await step("POST /login rejects the old password and accepts the new one", async () => {
      await visit(page, origin, "/login");
      strictEqual(await submitLogin(page, USERNAME, PASSWORD), 401);
      strictEqual(await textOf(page, '[role="alert"]'), INVALID_CREDENTIALS_MESSAGE);
      strictEqual(await submitLogin(page, USERNAME, NEW_PASSWORD), 303);
      strictEqual(pathOf(page), "/dashboard");
      strictEqual(await textOf(page, "h1"), WELCOME);
    });

    await contextB.close();
    await contextA.close();
  } finally {
    await browser?.close();
    serverStatus = await server.stop();
  }
  // SIGTERM lets in-flight requests finish, closes KV and exits 0.
  strictEqual(serverStatus.code, 0, `server output:\n${server.output()}`);
});
