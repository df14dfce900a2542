/**
 * Types shared by the app, its middleware and routes: what a session holds and what a request
 * carries on Hono's context.
 *
 * @module
 */
import type { Flash, Session, SessionRead } from "./sessions.ts";
import type { SessionOutcome } from "./telemetry.ts";

/** The signed-in user as pages see it: no password hash, no credential data. */
export type SessionUser = {
  /** Stable user id. */
  id: string;
  /** Username as typed at sign-up (normalised for comparison elsewhere). */
  username: string;
  /** Name shown in the page header. */
  displayName: string;
};

/** One cart line. */
export type CartLine = {
  /** Catalogue id. */
  productId: string;
  /** 1 to 99. */
  quantity: number;
};

/** What the app keeps in a session. */
export type AppSessionData = {
  /** Snapshot of the user taken at sign-in, so pages need no second KV read. */
  user: SessionUser;
  /** Shopping cart. */
  cart: CartLine[];
};

/** A live session of this app. */
export type AppSession = Session<AppSessionData>;

/** Hono environment: bindings from `Deno.serve` and the per-request variables. */
export type AppEnv = {
  Bindings: {
    /** Peer address, from `Deno.ServeHandlerInfo` (absent in `app.request()` tests). */
    remoteAddr?: { hostname?: string };
  };
  Variables: {
    /** Our own id for the request (`middleware/request_id.ts`), never a client's. */
    requestId: string;
    /** The live session, or null when signed out. */
    session: AppSession | null;
    /** The session token from the cookie, when it named a live session. */
    sessionToken: string | undefined;
    /**
     * The live session as the store read it, for an update's `basis` (spares a read); it goes
     * with `session`, so a handler that replaces one does not use the other.
     */
    sessionRead: SessionRead<AppSessionData> | undefined;
    /** The signed-in user (set by `requireAuth`; `null` on public pages when signed out). */
    user: SessionUser | null;
    /** One-shot messages to render on this page. */
    flash: Flash[];
    /** How the session lookup went, for logs and traces. */
    sessionOutcome: SessionOutcome;
  };
};
