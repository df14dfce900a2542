/**
 * Reading request bodies as attacker input: wrong content types and malformed bodies become a
 * 400 with a helpful message, never a 500.
 *
 * @module
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { BODY_TIMEOUT_MESSAGE, BodyTimeoutError } from "../middleware/body_deadline.ts";

/** Form fields by name (first value wins; file uploads are ignored). Null prototype. */
export type FormFields = Record<string, string | undefined>;

/**
 * Parses an `application/x-www-form-urlencoded` or `multipart/form-data` body.
 *
 * @throws {HTTPException} 400 for another content type or a body that does not parse; 408 for
 * a body that did not arrive in time (see `middleware/body_deadline.ts`)
 */
export async function readForm(c: Context): Promise<FormFields> {
  const type = mediaType(c.req.header("Content-Type"));
  if (type !== "application/x-www-form-urlencoded" && type !== "multipart/form-data") {
    throw new HTTPException(400, {
      message:
        "This form must be sent as application/x-www-form-urlencoded or multipart/form-data.",
    });
  }
  let data: FormData;
  try {
    data = await c.req.raw.formData();
  } catch (error) {
    throw timedOut(error) ??
      new HTTPException(400, { message: "The form data could not be read." });
  }
  const fields: FormFields = Object.create(null);
  for (const [name, value] of data) {
    if (typeof value === "string" && fields[name] === undefined) fields[name] = value;
  }
  return fields;
}

/**
 * Parses an `application/json` body into an object.
 *
 * @throws {HTTPException} 400 for another content type, malformed JSON, or a non-object; 408
 * for a body that did not arrive in time
 */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  if (mediaType(c.req.header("Content-Type")) !== "application/json") {
    throw new HTTPException(400, { message: "Send the body as application/json." });
  }
  let text: string;
  try {
    text = await c.req.raw.text();
  } catch (error) {
    throw timedOut(error) ?? new HTTPException(400, { message: "The body is not valid JSON." });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HTTPException(400, { message: "The body is not valid JSON." });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HTTPException(400, { message: "The body must be a JSON object." });
  }
  return value as Record<string, unknown>;
}

/** The 408 for a body whose deadline passed, or undefined for any other read failure. */
function timedOut(error: unknown): HTTPException | undefined {
  return error instanceof BodyTimeoutError
    ? new HTTPException(408, { message: BODY_TIMEOUT_MESSAGE })
    : undefined;
}

function mediaType(header: string | undefined): string {
  return (header ?? "").split(";", 1)[0]!.trim().toLowerCase();
}
