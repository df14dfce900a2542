/**
 * OpenTelemetry hooks. With `OTEL_DENO=true`, Deno traces every request itself and exports
 * through OTLP; this module adds what only the app knows: how the session lookup went, as a
 * span attribute and a counter. Without OTEL_DENO the API is a no-op.
 *
 * @module
 */
import { metrics, trace } from "@opentelemetry/api";

/** How a request's session lookup ended. */
export type SessionOutcome = "none" | "valid" | "renewed" | "expired" | "missing" | "revoked";

const lookups = metrics.getMeter("deno-shop").createCounter("session.lookups", {
  description: "Session cookie lookups by outcome",
});

/** Records the outcome on the request's span (`session.outcome`) and in the counter. */
export function recordSessionOutcome(outcome: SessionOutcome): void {
  trace.getActiveSpan()?.setAttribute("session.outcome", outcome);
  lookups.add(1, { "session.outcome": outcome });
}
