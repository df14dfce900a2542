import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { userKey, usernameKey } from "../src/kv_keys.ts";
import {
  InvalidUserInputError,
  MAX_DISPLAY_NAME_LENGTH,
  normalizeUsername,
  parseDisplayName,
  parseUsername,
  type User,
  UsernameTakenError,
  UserStore,
} from "../src/users.ts";
import { fakeClock, withKv } from "./_helpers.ts";

const USERNAME_RULE = "Usernames are 3 to 32 letters, digits, dots, dashes or underscores.";
const DISPLAY_NAME_RULE = `Display names are 1 to ${MAX_DISPLAY_NAME_LENGTH} characters.`;
const CHARACTERS_RULE = "Display names cannot contain control, formatting or invisible characters.";
const HASH = "scrypt$v=1$n=1024,r=8,p=1$c2FsdA$a2V5";

async function listUsers(kv: Deno.Kv): Promise<User[]> {
  const users: User[] = [];
  for await (const entry of kv.list<User>({ prefix: ["users"] })) users.push(entry.value);
  return users;
}

Deno.test("normalizeUsername() trims, applies NFKC and lower-cases", async (t) => {
  const cases: [string, string, string][] = [
    ["plain", "alice", "alice"],
    ["upper case", "ALICE", "alice"],
    ["surrounding spaces", "  Alice\t\n", "alice"],
    ["full-width letters", "Ａｌｉｃｅ", "alice"],
    ["ideographic space around full-width", "\u3000Ａｌｉｃｅ\u3000", "alice"],
    ["ligature", "\uFB01sh", "fish"],
    ["composed and decomposed accents agree", "Jose\u0301", "jos\u00e9"],
    ["circled digit", "bob\u2460", "bob1"],
  ];
  for (const [name, raw, expected] of cases) {
    await t.step(name, () => strictEqual(normalizeUsername(raw), expected));
  }
});

Deno.test("parseUsername() returns display and comparison forms of a good username", async (t) => {
  const cases: [string, string, { username: string; normalized: string }][] = [
    ["lower case", "alice", { username: "alice", normalized: "alice" }],
    ["mixed case keeps its case for display", "Alice", { username: "Alice", normalized: "alice" }],
    ["trimmed", "  bob  ", { username: "bob", normalized: "bob" }],
    ["full-width becomes ASCII", "Ａｌｉｃｅ", { username: "Alice", normalized: "alice" }],
    ["dots, dashes, underscores, digits", "a.b-c_9", {
      username: "a.b-c_9",
      normalized: "a.b-c_9",
    }],
    ["non-Latin letters", "Ελένη", { username: "Ελένη", normalized: "ελένη" }],
    ["3 characters", "abc", { username: "abc", normalized: "abc" }],
    ["32 characters", "a".repeat(32), { username: "a".repeat(32), normalized: "a".repeat(32) }],
  ];
  for (const [name, raw, expected] of cases) {
    await t.step(name, () => deepStrictEqual(parseUsername(raw), expected));
  }
});

Deno.test("parseUsername() refuses bad usernames with InvalidUserInputError", async (t) => {
  const cases: [string, unknown][] = [
    ["empty", ""],
    ["spaces only", "    "],
    ["2 characters", "ab"],
    ["33 characters", "a".repeat(33)],
    ["33 full-width characters", "ａ".repeat(33)],
    ["inner space", "al ice"],
    ["punctuation", "al!ce"],
    ["markup", "<script>"],
    ["at sign", "alice@example.com"],
    ["slash", "a/b/c"],
    ["NUL", "ali\u0000ce"],
    ["newline inside", "ali\nce"],
    ["zero-width joiner", "ali\u200Dce"],
    ["right-to-left override", "ali\u202Ece"],
    ["emoji", "bob🐴"],
    ["a number", 12345],
    ["null", null],
    ["undefined", undefined],
  ];
  for (const [name, raw] of cases) {
    await t.step(name, () => {
      throws(() => parseUsername(raw), (error) => {
        ok(error instanceof InvalidUserInputError, String(error));
        strictEqual(error.name, "InvalidUserInputError");
        strictEqual(error.field, "username");
        strictEqual(error.message, USERNAME_RULE);
        return true;
      });
    });
  }
});

Deno.test("parseDisplayName() trims and NFC-normalises a good display name", async (t) => {
  const cases: [string, string, string][] = [
    ["plain", "Alice Smith", "Alice Smith"],
    ["trimmed", "  Alice  ", "Alice"],
    ["one character", "A", "A"],
    ["64 characters", "a".repeat(64), "a".repeat(64)],
    ["64 emoji are 64 characters", "🐴".repeat(64), "🐴".repeat(64)],
    ["decomposed accent composed", "Jose\u0301", "Jos\u00e9"],
    ["markup is kept: pages escape it", "<script>alert(1)</script>", "<script>alert(1)</script>"],
    ["a no-break space becomes a space", "Alice\u00a0Smith", "Alice Smith"],
    ["an ideographic space becomes a space", "山田\u3000太郎", "山田 太郎"],
    ["a run of spaces becomes one", "Alice \u2003\u00a0 Smith", "Alice Smith"],
    ["right-to-left letters", "שרה כהן", "שרה כהן"],
    ["a combining mark with no precomposed form", "g\u0303", "g\u0303"],
  ];
  for (const [name, raw, expected] of cases) {
    await t.step(name, () => strictEqual(parseDisplayName(raw), expected));
  }
});

Deno.test("parseDisplayName() keeps the format characters emoji and scripts need", async (t) => {
  const cases: [string, string][] = [
    ["an emoji with a variation selector", "Ann \u2764\uFE0F"],
    ["a keycap", "Team 1\uFE0F\u20E3"],
    ["a family emoji (ZWJ sequence)", "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}"],
    ["a rainbow flag", "\u{1F3F3}\uFE0F\u200D\u{1F308}"],
    ["a skin tone in a ZWJ sequence", "\u{1F469}\u{1F3FD}\u200D\u{1F4BB} Dev"],
    [
      "a subdivision flag (tag characters)",
      "\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F} Ewan",
    ],
    ["ZWNJ in a Persian name", "\u0639\u0644\u06CC\u200C\u0631\u0636\u0627"],
    ["ZWJ in a Devanagari conjunct", "\u0915\u094D\u200D\u0937"],
  ];
  for (const [name, raw] of cases) {
    await t.step(name, () => strictEqual(parseDisplayName(raw), raw));
  }
});

Deno.test("parseDisplayName() refuses bad display names with InvalidUserInputError", async (t) => {
  const cases: [string, unknown, string][] = [
    ["empty", "", DISPLAY_NAME_RULE],
    ["spaces only", "   ", DISPLAY_NAME_RULE],
    ["no-break and ideographic spaces only", "\u00a0\u3000", DISPLAY_NAME_RULE],
    ["65 characters", "a".repeat(65), DISPLAY_NAME_RULE],
    ["65 emoji", "🐴".repeat(65), DISPLAY_NAME_RULE],
    ["a number", 42, DISPLAY_NAME_RULE],
    ["null", null, DISPLAY_NAME_RULE],
    ...([
      // Cc: C0, DEL and C1 controls.
      ["NUL", "Ali\u0000ce"],
      ["tab inside", "Ali\tce"],
      ["newline inside", "Ali\nce"],
      ["DEL", "Ali\u007fce"],
      ["a C1 control (NEL)", "Ali\u0085ce"],
      ["a C1 control (CSI)", "Ali\u009bce"],
      // Cf: bidirectional controls.
      ["a right-to-left override", "Alice\u202Egnp.exe"],
      ["a left-to-right override", "\u202DAlice"],
      ["a right-to-left embedding", "\u202BAlice\u202C"],
      ["a pop directional formatting", "Alice\u202C"],
      ["a right-to-left isolate", "Alice \u2067Bob\u2069"],
      ["a first strong isolate", "\u2068Alice"],
      ["a right-to-left mark", "Alice\u200F"],
      ["a left-to-right mark", "\u200EAlice"],
      ["an Arabic letter mark", "Alice\u061C"],
      // Cf: invisible characters.
      ["a zero-width space", "Ali\u200Bce"],
      ["a zero-width non-joiner between Latin letters", "Ali\u200Cce"],
      ["a zero-width joiner between Latin letters", "Ali\u200Dce"],
      ["a ZWJ after an emoji but before a letter", "\u{1F468}\u200DAlice"],
      ["a word joiner", "Ali\u2060ce"],
      ["a byte order mark inside", "Ali\uFEFFce"],
      ["a soft hyphen", "Ali\u00ADce"],
      ["an invisible times", "Ali\u2062ce"],
      ["a Mongolian vowel separator", "Ali\u180Ece"],
      ["an interlinear annotation", "\uFFF9Alice\uFFFB"],
      ["tag characters outside a flag", "Alice\u{E0061}\u{E007F}"],
      // Zl, Zp.
      ["a line separator", "Alice\u2028Bob"],
      ["a paragraph separator", "Alice\u2029Bob"],
      // Co, Cn, Cs.
      ["a private-use character", "Alice\uE000"],
      ["a supplementary private-use character", "Alice\u{F0000}"],
      ["an unassigned code point", "Alice\u0378"],
      ["a noncharacter", "Alice\uFFFF"],
      ["a lone surrogate", "Alice\uD800"],
      // Other invisible characters.
      ["a Hangul filler", "\u3164"],
      ["a Hangul filler inside", "Ali\u3164ce"],
      ["a halfwidth Hangul filler", "\uFFA0"],
      ["a Hangul choseong filler", "\u115F"],
      ["a blank braille pattern", "\u2800"],
      ["a variation selector after a letter", "Alice\uFE0F"],
      ["a combining grapheme joiner", "Ali\u034Fce"],
    ] as const).map(([name, raw]): [string, unknown, string] => [name, raw, CHARACTERS_RULE]),
  ];
  for (const [name, raw, message] of cases) {
    await t.step(name, () => {
      throws(() => parseDisplayName(raw), (error) => {
        ok(error instanceof InvalidUserInputError, String(error));
        strictEqual(error.field, "displayName");
        strictEqual(error.message, message);
        return true;
      });
    });
  }
});

Deno.test("UserStore.create() stores a user findable in any case or compatibility form", async () => {
  await withKv(async (kv) => {
    const clock = fakeClock();
    const users = new UserStore(kv, clock.now);
    const user = await users.create({
      username: " Alice ",
      displayName: " Alice A. ",
      passwordHash: HASH,
    });
    deepStrictEqual({ ...user, id: "" }, {
      id: "",
      username: "Alice",
      normalizedUsername: "alice",
      displayName: "Alice A.",
      passwordHash: HASH,
      createdAt: clock.now(),
    });
    ok(/^[0-9a-f-]{36}$/.test(user.id), user.id);
    deepStrictEqual(await users.get(user.id), user);
    strictEqual((await kv.get(usernameKey("alice"))).value, user.id);
    for (const spelling of ["alice", "ALICE", " Alice ", "Ａｌｉｃｅ", "ａｌｉｃｅ"]) {
      strictEqual(await users.idForUsername(spelling), user.id, spelling);
      deepStrictEqual(await users.findByUsername(spelling), user, spelling);
    }
    strictEqual(await users.idForUsername("bob"), null);
    strictEqual(await users.findByUsername("bob"), null);
    strictEqual(await users.idForUsername(""), null);
    strictEqual(await users.idForUsername("a".repeat(10_000)), null);
    strictEqual(await users.get("no-such-id"), null);
  });
});

Deno.test("UserStore.create() refuses a username taken in another case or form", async (t) => {
  await withKv(async (kv) => {
    const users = new UserStore(kv);
    const first = await users.create({ username: "alice", displayName: "A", passwordHash: HASH });
    for (const spelling of ["alice", "Alice", "ALICE", "Ａｌｉｃｅ", " alice "]) {
      await t.step(JSON.stringify(spelling), async () => {
        await rejects(
          users.create({ username: spelling, displayName: "Impostor", passwordHash: HASH }),
          (error) => {
            ok(error instanceof UsernameTakenError, String(error));
            strictEqual(error.message, "That username is already taken. Please choose another.");
            return true;
          },
        );
      });
    }
    // The first user is untouched and is the only one.
    deepStrictEqual(await listUsers(kv), [first]);
  });
});

Deno.test("UserStore.create() checks the username and display name", async () => {
  await withKv(async (kv) => {
    const users = new UserStore(kv);
    await rejects(
      users.create({ username: "a b", displayName: "A", passwordHash: HASH }),
      { name: "InvalidUserInputError", message: USERNAME_RULE },
    );
    await rejects(
      users.create({ username: "alice", displayName: "", passwordHash: HASH }),
      { name: "InvalidUserInputError", message: DISPLAY_NAME_RULE },
    );
    deepStrictEqual(await listUsers(kv), []);
    strictEqual((await kv.get(usernameKey("alice"))).value, null);
  });
});

Deno.test("UserStore.create() lets exactly one of concurrent sign-ups for one name win", async () => {
  await withKv(async (kv) => {
    const users = new UserStore(kv);
    const spellings = [
      "carol",
      "Carol",
      "CAROL",
      "Ｃａｒｏｌ",
      "carol",
      "cArOl",
      "carol ",
      "CaRoL",
    ];
    const results = await Promise.allSettled(
      spellings.map((username, i) =>
        users.create({ username, displayName: `Carol ${i}`, passwordHash: HASH })
      ),
    );
    const won = results.filter((result) => result.status === "fulfilled");
    const lost = results.filter((result) => result.status === "rejected");
    strictEqual(won.length, 1);
    strictEqual(lost.length, spellings.length - 1);
    for (const result of lost) {
      ok(result.reason instanceof UsernameTakenError, String(result.reason));
    }
    const stored = await listUsers(kv);
    strictEqual(stored.length, 1);
    const winner = (won[0] as PromiseFulfilledResult<User>).value;
    deepStrictEqual(stored[0], winner);
    strictEqual((await kv.get(usernameKey("carol"))).value, winner.id);
  });
});

Deno.test("UserStore.update() changes the display name, and nothing else", async () => {
  await withKv(async (kv) => {
    const users = new UserStore(kv);
    const user = await users.create({ username: "dave", displayName: "Dave", passwordHash: HASH });
    const updated = await users.update(user.id, { displayName: "  David " });
    deepStrictEqual(updated, { ...user, displayName: "David" });
    deepStrictEqual((await kv.get(userKey(user.id))).value, updated);
    strictEqual(await users.update("missing", { displayName: "x" }), null);
    await rejects(users.update(user.id, { displayName: "" }), InvalidUserInputError);
  });
});

Deno.test("UserStore.setPasswordHash() writes only over the record it was given", async () => {
  await withKv(async (kv) => {
    const users = new UserStore(kv);
    const user = await users.create({ username: "erin", displayName: "Erin", passwordHash: HASH });
    const read = (await users.getEntry(user.id)) as Deno.KvEntry<User>;
    const first = await users.setPasswordHash(kv.atomic(), read, "first").commit();
    strictEqual(first.ok, true);
    strictEqual((await users.get(user.id))?.passwordHash, "first");
    // A second write from the same (now stale) read must not replace the first one's hash.
    const second = await users.setPasswordHash(kv.atomic(), read, "second").commit();
    strictEqual(second.ok, false);
    strictEqual((await users.get(user.id))?.passwordHash, "first");
  });
});
