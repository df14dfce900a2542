/**
 * Types shared by the app, its middleware and routes: what a session holds and what a request
 * carries on Hono's context.
 *
 * @module
 */
import type { Session, SessionVariables } from "@kvsession/hono";

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
  /** The package's session variables (`session`, `sessionToken`, `flash`, ...) and ours. */
  Variables: SessionVariables<AppSessionData> & {
    /** Our own id for the request (`middleware/request_id.ts`), never a client's. */
    requestId: string;
    /** The signed-in user from the session's snapshot; `null` when signed out. */
    user: SessionUser | null;
  };
};
