import { strictEqual } from "node:assert/strict";

const root = new URL("../../", import.meta.url);

/** Reads the child's stdout up to the "Listening on" line and returns the address. */
async function listeningAddress(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    // Bounded: the process prints one line when it listens, or exits (done).
    for (let reads = 0; reads < 1000; reads++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      const match = text.match(/Listening on (http:\/\/127\.0\.0\.1:\d+)\//);
      if (match) return match[1]!;
    }
    throw new Error(`examples/minimal.ts did not report its address; stdout: ${text}`);
  } finally {
    await reader.cancel();
  }
}

Deno.test("examples/minimal.ts signs in, serves the guarded page, signs out", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    // The command in the example's header comment.
    args: ["run", "--allow-net=127.0.0.1", "--allow-env=PORT", "examples/minimal.ts"],
    cwd: root,
    env: { PORT: "0", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const origin = await listeningAddress(child.stdout);
    const post = (path: string, cookie: string, body: string) =>
      fetch(`${origin}${path}`, {
        method: "POST",
        redirect: "manual",
        headers: {
          Origin: origin,
          Cookie: cookie,
          "Content-Type": "application/x-www-form-urlencoded",
        },
        body,
      });

    const login = await post("/login", "", "name=Ada");
    strictEqual(login.status, 303);
    strictEqual(login.headers.get("Location"), "/me");
    await login.body?.cancel();
    const cookie = login.headers.getSetCookie()[0]!.split(";")[0]!;
    strictEqual(/^sid=[A-Za-z0-9_-]{43}$/.test(cookie), true, cookie);

    const me = await fetch(`${origin}/me`, { headers: { Cookie: cookie } });
    strictEqual(me.status, 200);
    strictEqual(await me.text(), "Signed in as Ada");

    const logout = await post("/logout", cookie, "");
    strictEqual(logout.status, 303);
    strictEqual(
      logout.headers.getSetCookie()[0],
      "sid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    );
    await logout.body?.cancel();

    // The old cookie no longer opens the page, even if the browser kept it.
    const after = await fetch(`${origin}/me`, { headers: { Cookie: cookie } });
    strictEqual(after.status, 401);
    await after.body?.cancel();

    const forged = await fetch(`${origin}/login`, {
      method: "POST",
      redirect: "manual",
      headers: {
        Origin: "https://evil.example",
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: "name=Mallory",
    });
    strictEqual(forged.status, 403);
    await forged.body?.cancel();
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
});
