import type {
  ArchiveEntry,
  Batch,
  BatchArtifactStore,
  BatchArtifacts,
  BatchClaim,
  BatchJobEntry,
  BatchMessage,
  BatchQueue,
  BatchStore,
  RecordsSource,
} from "../../core/batches.js";
import { zipStream } from "../zip/yazl-archive.js";
import type { MemoryJobStore } from "./memory-ports.js";

/** Batches in memory; their jobs are read from the job store, as the batch-jobs index does. */
export class MemoryBatchStore implements BatchStore {
  readonly batches = new Map<string, Batch>();
  readonly checks = new Map<string, number>();

  constructor(private readonly jobs: MemoryJobStore) {}

  async create(batch: Batch): Promise<"created" | "exists"> {
    const k = `${batch.tenant}/${batch.id}`;
    if (this.batches.has(k)) return "exists";
    this.batches.set(k, batch);
    return "created";
  }

  async get(tenant: string, id: string): Promise<Batch | undefined> {
    return this.batches.get(`${tenant}/${id}`);
  }

  async recordArtifacts(tenant: string, id: string, artifacts: BatchArtifacts): Promise<void> {
    const batch = this.batches.get(`${tenant}/${id}`);
    if (!batch) throw new Error(`batch ${id} does not exist`);
    const defined = Object.fromEntries(Object.entries(artifacts).filter(([, v]) => v !== undefined));
    this.batches.set(`${tenant}/${id}`, { ...batch, ...defined });
  }

  async listJobs(
    tenant: string,
    batchId: string,
    range?: { from: number; to: number },
  ): Promise<BatchJobEntry[]> {
    return [...this.jobs.jobs.values()]
      .filter((j) => j.tenant === tenant && j.batch?.id === batchId)
      .filter((j) => !range || ((j.batch?.index ?? -1) >= range.from && (j.batch?.index ?? -1) <= range.to))
      .map((j) => ({
        index: j.batch?.index ?? -1,
        jobId: j.id,
        status: j.status,
        ...(j.output ? { output: j.output } : {}),
        ...(j.error ? { error: j.error } : {}),
      }))
      .sort((a, b) => a.index - b.index);
  }

  async claim(tenant: string, id: string, what: BatchClaim, now: Date, intervalMs: number): Promise<boolean> {
    const k = `${tenant}/${id}/${what}`;
    const last = this.checks.get(k);
    if (!this.batches.has(`${tenant}/${id}`) || (last !== undefined && last > now.getTime() - intervalMs))
      return false;
    this.checks.set(k, now.getTime());
    return true;
  }
}

export class MemoryBatchQueue implements BatchQueue {
  readonly sent: Array<{ message: BatchMessage; delaySeconds: number }> = [];
  async send(messages: readonly BatchMessage[], delaySeconds = 0): Promise<void> {
    for (const message of messages) this.sent.push({ message, delaySeconds });
  }
}

export class MemoryArtifactStore implements BatchArtifactStore {
  readonly objects = new Map<string, { body: Uint8Array; contentType: string }>();
  async read(key: string): Promise<Uint8Array | undefined> {
    return this.objects.get(key)?.body;
  }
  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    this.objects.set(key, { body, contentType });
  }
  async putZip(key: string, entries: AsyncIterable<ArchiveEntry>, modified: Date): Promise<number> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of zipStream(entries, modified)) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    this.objects.set(key, { body, contentType: "application/zip" });
    return body.byteLength;
  }
}

export class MemoryRecordsSource implements RecordsSource {
  readonly texts = new Map<string, string>();
  async readText(objectKey: string): Promise<string | undefined> {
    return this.texts.get(objectKey);
  }
}
