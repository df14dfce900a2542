/**
 * `deno task user:add USERNAME [--name "Display Name"]`: creates a user, or updates the password
 * (and display name) of an existing one, in the same KV the server uses (`KV_PATH`).
 *
 * The password is the first line of standard input, read without echo when it is a terminal.
 * Changing an existing user's password signs out all of that user's sessions.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../src/config.ts";
import { createPasswordHasher, validatePassword } from "../src/passwords.ts";
import { SessionStore, StaleCredentialsError } from "@kvsession/hono";
import {
  InvalidUserInputError,
  parseDisplayName,
  parseUsername,
  UsernameTakenError,
  UserStore,
} from "../src/users.ts";
import { openKv } from "../src/open_kv.ts";

const USAGE = 'Usage: deno task user:add USERNAME [--name "Display Name"]  (password on stdin)';

/** Reads the first line of standard input; hides the typing when it is a terminal. */
export async function readPassword(stdin = Deno.stdin): Promise<string> {
  if (!stdin.isTerminal()) {
    const reader = stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    try {
      while (!text.includes("\n")) {
        const { done, value } = await reader.read();
        if (done) break;
        text += value;
      }
    } finally {
      await reader.cancel();
    }
    return text.split(/\r?\n/, 1)[0] ?? "";
  }
  await Deno.stdout.write(new TextEncoder().encode("Password: "));
  stdin.setRaw(true);
  const bytes: number[] = [];
  const buffer = new Uint8Array(64);
  try {
    reading: for (;;) {
      const count = await stdin.read(buffer);
      if (count === null) break;
      for (const byte of buffer.subarray(0, count)) {
        if (byte === 0x0d || byte === 0x0a) break reading;
        if (byte === 0x03) throw new Error("Cancelled");
        if (byte === 0x7f || byte === 0x08) bytes.pop();
        else bytes.push(byte);
      }
    }
  } finally {
    stdin.setRaw(false);
    await Deno.stdout.write(new TextEncoder().encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: { name: { type: "string" } },
      allowPositionals: true,
    });
  } catch (error) {
    // An unknown option or a --name without a value is a usage error, not a crash.
    console.error(`${error instanceof Error ? error.message : error}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const username = positionals[0]!;
  const config = loadConfig(Deno.env.toObject(), "production");
  const password = await readPassword();
  const problem = validatePassword(password);
  if (problem !== null) {
    console.error(problem);
    return 1;
  }
  // Check the names before paying for a hash.
  parseUsername(username);
  if (values.name !== undefined) parseDisplayName(values.name);

  const kv = await openKv(config);
  try {
    const users = new UserStore(kv);
    await using hasher = createPasswordHasher(); // its Worker ends here, not after idling
    const passwordHash = await hasher.hash(password);
    const existing = await users.findByUsername(username);
    if (existing === null) {
      const user = await users.create({
        username,
        displayName: values.name ?? username,
        passwordHash,
      });
      console.log(`Created user "${user.username}".`);
      return 0;
    }
    const sessions = new SessionStore({
      kv,
      idleTimeoutSeconds: config.idleTimeoutSeconds,
      absoluteTimeoutSeconds: config.absoluteTimeoutSeconds,
    });
    // As a password change in the app: the new hash and the credential version bump (which
    // ends the sessions made with the old password) are one commit, checked against the record
    // read here. A concurrent change of the user only makes it read again: the operator's
    // password is meant to win, and there is no old password to verify.
    for (let attempt = 1;; attempt++) {
      const entry = await users.getEntry(existing.id);
      if (entry.value === null) throw new Error(`User "${existing.username}" disappeared`);
      const checked = entry as Deno.KvEntry<typeof entry.value>;
      try {
        const { ended } = await sessions.bumpCredentialVersion(existing.id, undefined, {
          include: (operation) =>
            users.setPasswordHash(operation, checked, passwordHash, values.name),
        });
        console.log(`Updated user "${existing.username}"; ${ended} session(s) signed out.`);
        return 0;
      } catch (error) {
        if (!(error instanceof StaleCredentialsError) || attempt >= 5) throw error;
      }
    }
  } finally {
    kv.close();
  }
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main();
  } catch (error) {
    if (
      error instanceof ConfigError || error instanceof InvalidUserInputError ||
      error instanceof UsernameTakenError ||
      (error instanceof Error && error.message === "Cancelled")
    ) {
      console.error(error.message);
      Deno.exitCode = 1;
    } else {
      throw error;
    }
  }
}
