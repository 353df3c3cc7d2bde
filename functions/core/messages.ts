/**
 * The messages Kiln's queues carry, written once: each consumer parses a record's body with its schema,
 * and each producer's port takes the type inferred from it, so the two cannot drift.
 */
import { z } from "zod";

/** Render queue: one job to render. */
export const RenderMessageSchema = z.strictObject({
  tenant: z.string().min(1),
  jobId: z.string().min(1),
  /** The submitting request's correlation id; on every log line of the job's work. */
  correlationId: z.string().max(128).optional(),
});
export type RenderMessage = z.infer<typeof RenderMessageSchema>;

/** Webhook queue: one delivery attempt of a job's completion webhook. */
export const WebhookMessageSchema = z.strictObject({
  tenant: z.string().min(1),
  jobId: z.string().min(1),
  /** Delivery attempt this message asks for; 1 is the first. */
  attempt: z.int().min(1),
  /** Epoch ms before which the attempt must not be made (waits longer than one queue delay). */
  notBefore: z.int().optional(),
  /** The job's correlation id, so the dispatcher's lines carry it before the job is read. */
  correlationId: z.string().max(128).optional(),
});
export type WebhookMessage = z.infer<typeof WebhookMessageSchema>;

/** Batch queue: a chunk of a batch to fan out into render jobs, or a completion check. */
export const BatchMessageSchema = z.discriminatedUnion("kind", [
  /** Create and queue the jobs of records `[chunk × chunkSize, …)`. */
  z.strictObject({
    kind: z.literal("chunk"),
    tenant: z.string().min(1),
    batchId: z.string().min(1),
    chunk: z.int().min(0),
  }),
  /** See whether the batch is complete; if so write its manifest (and zip), else check again later. */
  z.strictObject({ kind: z.literal("check"), tenant: z.string().min(1), batchId: z.string().min(1) }),
]);
export type BatchMessage = z.infer<typeof BatchMessageSchema>;
