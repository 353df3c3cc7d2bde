import { describe, expect, it } from "vitest";
import {
  AWS_PRICES,
  batchRecordAssumptions,
  blendWithCacheHits,
  type CostAssumptions,
  compareWaitWithPolling,
  DEFAULT_ASSUMPTIONS,
  estimateCacheHit,
  estimateCost,
  idleMonthlyCost,
  monthlyCost,
  overTarget,
  readUnits,
  requestItemSize,
  waitedJobReads,
  workerBilledMs,
  writeUnits,
} from "../../bin/cost/cost-model.js";
import { RENDER_WAIT, waitSchedule } from "../../functions/core/render-wait.js";

/** Round figures, so each line can be checked by hand. */
const simple: CostAssumptions = {
  ...DEFAULT_ASSUMPTIONS,
  workerMemoryMb: 2048,
  workerBilledMsPerRender: 100,
  batchSize: 5,
  apiMemoryMb: 512,
  apiMsPerRequest: 40,
  signerMemoryMb: 256,
  signerMsPerInvocation: 20,
  statusReads: 1,
  requestBytes: 8_192,
  requestCompression: 0.25,
  requestItemOverheadBytes: 100,
  jobItemBytes: 512,
  jobWrites: 3,
  outputBytes: 1024 * 1024,
  deliveries: 1,
  cacheHitRatio: 0,
  retentionDays: 30,
  logBytesPerRender: 1024,
};

const line = (item: string, assumptions = simple) => {
  const found = estimateCost(assumptions).lines.find((l) => l.item.startsWith(item));
  if (!found) throw new Error(`no line "${item}"`);
  return found;
};

describe("DynamoDB request units", () => {
  it("rounds writes up to whole kilobytes and reads up to 4 KB, at least one unit each", () => {
    expect([writeUnits(0), writeUnits(1024), writeUnits(1025), writeUnits(6_800)]).toEqual([1, 1, 2, 7]);
    expect([readUnits(1), readUnits(4096), readUnits(4097)]).toEqual([1, 1, 2]);
  });
});

describe("workerBilledMs", () => {
  it("spreads CPU time over the vCPUs the memory buys, then divides by utilization", () => {
    expect(workerBilledMs({ cpuMsPerRender: 1769, memoryMb: 1769, utilization: 1 })).toBeCloseTo(1769);
    expect(workerBilledMs({ cpuMsPerRender: 100, memoryMb: 3538, utilization: 1 })).toBeCloseTo(50);
    expect(workerBilledMs({ cpuMsPerRender: 100, memoryMb: 3538, utilization: 0.5 })).toBeCloseTo(100);
  });

  it("halves the billed time when the memory, and with it the CPU, doubles", () => {
    const at2048 = workerBilledMs({ cpuMsPerRender: 120, memoryMb: 2048, utilization: 0.8 });
    expect(workerBilledMs({ cpuMsPerRender: 120, memoryMb: 4096, utilization: 0.8 })).toBeCloseTo(at2048 / 2);
  });

  it("refuses a utilization outside (0, 1]", () => {
    expect(() => workerBilledMs({ cpuMsPerRender: 1, memoryMb: 2048, utilization: 0 })).toThrow(RangeError);
    expect(() => workerBilledMs({ cpuMsPerRender: 1, memoryMb: 2048, utilization: 1.5 })).toThrow(RangeError);
  });
});

describe("estimateCost", () => {
  it("charges the worker its GB-seconds and one invocation per batch", () => {
    expect(line("worker duration").perRender).toBeCloseTo(2 * 0.1);
    expect(line("worker duration").per1000).toBeCloseTo(0.2 * AWS_PRICES.lambda.gbSecond * 1000);
    expect(line("worker invocations").perRender).toBeCloseTo(0.2);
  });

  it("counts the POST and every status read at API Gateway, the api function and the signer", () => {
    const polls = { ...simple, statusReads: 3 };
    expect(line("REST API requests", polls).perRender).toBe(4);
    expect(line("api invocations", polls).perRender).toBe(4);
    expect(line("signer invocations", polls).perRender).toBe(3);
    expect(line("REST API requests", polls).per1000).toBeCloseTo(4 * 3.5e-3);
  });

  it("writes the compressed request once, and the job item, which does not carry it, three times", () => {
    // 8 KB request × 0.25 + 100 bytes = 2,148 bytes: 3 WRU, once.
    expect(requestItemSize(simple)).toBe(2_148);
    expect(line("request item write").perRender).toBe(3);
    // 0.5 KB job item: 1 WRU per write, whatever the request's size.
    expect(line("job writes").perRender).toBe(3);
    expect(line("job writes").per1000).toBeCloseTo(3 * 0.625e-3);
    expect(line("job writes", { ...simple, requestBytes: 100_000 }).perRender).toBe(3);
    expect(line("request item write", { ...simple, requestBytes: 100_000 }).perRender).toBe(25);
    expect(line("job writes", { ...simple, jobItemBytes: 1_500 }).perRender).toBe(6);
    // Every job write moves the job in the open-jobs index (keys only): one more unit each.
    expect(line("open-jobs index writes").perRender).toBe(3);
    expect(line("open-jobs index writes", { ...simple, jobItemBytes: 1_500 }).perRender).toBe(3);
  });

  it("moves a request too large for the jobs table to the payload bucket", () => {
    const large = { ...simple, requestBytes: 200 * 1024, inlineRequestBytes: 128 * 1024 };
    expect(line("job writes", large).perRender).toBe(3);
    expect(line("request item write", large).perRender).toBe(0);
    expect(line("request read by the worker", large).perRender).toBe(0);
    expect(line("request payload PUT", large).perRender).toBe(1);
    expect(line("request payload GET", large).perRender).toBe(1);
    expect(line("request payload PUT").perRender).toBe(0);
  });

  it("claims an Idempotency-Key with one small write for each submission that carries one", () => {
    expect(line("idempotency key claims").perRender).toBe(1);
    expect(line("idempotency key claims").per1000).toBeCloseTo(0.625e-3);
    expect(line("idempotency key claims", { ...simple, idempotencyKeyShare: 0.5 }).perRender).toBe(0.5);
    expect(line("idempotency key claims", { ...simple, idempotencyKeyShare: 0 }).per1000).toBe(0);
    expect(() => estimateCost({ ...simple, idempotencyKeyShare: 1.5 })).toThrow(/idempotencyKeyShare/);
  });

  it("reads the API key once per request, the job consistently once per status read, the request once", () => {
    // 2 API requests × 1 + 1 read of a 0.5 KB item (1 RRU).
    expect(line("reads").perRender).toBe(3);
    // The worker's query reads the job item and the request item: 2.6 KB, 1 RRU.
    expect(line("request read by the worker").perRender).toBe(1);
    expect(line("request read by the worker", { ...simple, requestBytes: 20_000 }).perRender).toBe(2);
  });

  it("stores both items for the retention period, with DynamoDB's 100 bytes per item", () => {
    // 512 + 2,148 + 2 × 100 bytes for one month.
    expect(line("job and request item storage").perRender).toBeCloseTo(2_860 / 1024 ** 3);
    const large = { ...simple, requestBytes: 200 * 1024, inlineRequestBytes: 128 * 1024 };
    expect(line("job and request item storage", large).perRender).toBeCloseTo(612 / 1024 ** 3);
  });

  it("shares the receive, delete and heartbeat of a batch among its records", () => {
    expect(line("receive, delete, heartbeat").perRender).toBeCloseTo(3 / 5);
    expect(line("send").perRender).toBe(1);
  });

  it("stores the output for the retention period and serves it once through CloudFront", () => {
    expect(line("output PUT").per1000).toBeCloseTo(0.005);
    // 1 MB for one month: 1/1024 GB-month.
    expect(line("output storage").perRender).toBeCloseTo(1 / 1024);
    expect(line("data out").perRender).toBeCloseTo(1 / 1024);
    expect(line("data out").per1000).toBeCloseTo((1000 / 1024) * 0.085);
    expect(line("GETs behind CloudFront misses").perRender).toBe(1);
  });

  it("asks S3 only for the deliveries CloudFront cannot serve from its cache", () => {
    const cached = { ...simple, deliveries: 4, cacheHitRatio: 0.75 };
    expect(line("GETs behind CloudFront misses", cached).perRender).toBeCloseTo(1);
    expect(line("HTTPS requests", cached).perRender).toBe(4);
  });

  it("adds up the lines, in total and by service, and tells delivery apart", () => {
    const estimate = estimateCost(simple);
    const sum = estimate.lines.reduce((s, l) => s + l.per1000, 0);
    expect(estimate.per1000).toBeCloseTo(sum, 12);
    expect(Object.values(estimate.byService).reduce((s, v) => s + v, 0)).toBeCloseTo(sum, 12);
    const delivery = line("HTTPS requests").per1000 + line("data out").per1000 + line("GETs behind").per1000;
    expect(estimate.per1000WithoutDelivery).toBeCloseTo(sum - delivery, 12);
    expect(estimateCost({ ...simple, deliveries: 0 }).per1000).toBeCloseTo(
      estimate.per1000WithoutDelivery,
      12,
    );
  });

  it("prices with the table it is given", () => {
    const doubled = {
      ...AWS_PRICES,
      s3: { ...AWS_PRICES.s3, perPut: 2 * AWS_PRICES.s3.perPut },
    } as typeof AWS_PRICES;
    const base = estimateCost(simple);
    expect(estimateCost(simple, doubled).per1000 - base.per1000).toBeCloseTo(0.005);
  });

  it("refuses negative or impossible assumptions, naming them", () => {
    expect(() => estimateCost({ ...simple, outputBytes: -1 })).toThrow(/outputBytes/);
    expect(() => estimateCost({ ...simple, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => estimateCost({ ...simple, cacheHitRatio: 2 })).toThrow(/cacheHitRatio/);
  });
});

describe("monthly figures", () => {
  it("scales the per-render cost to 30 days of a daily volume", () => {
    const estimate = estimateCost(simple);
    expect(monthlyCost(estimate, 10_000)).toBeCloseTo((estimate.per1000 / 1000) * 10_000 * 30);
    expect(monthlyCost(estimate, 0)).toBe(0);
  });

  it("prices the idle long polls of both event source mappings", () => {
    // 2 mappings × 5 pollers × 4,320 receives a day × 30 days.
    expect(idleMonthlyCost()).toBeCloseTo(1_296_000 * 0.4e-6);
  });
});

describe("compareWaitWithPolling", () => {
  const per1000 = (units: number, price: number) => units * price * 1000;
  const gbs = (mb: number, ms: number) => (mb / 1024) * (ms / 1000);

  it("counts the reads a waiting request makes from the wait's schedule", () => {
    const schedule = waitSchedule(60_000);
    // A job that ends at a read is seen by that read: the reads are the pauses up to then.
    let at = 0;
    schedule.slice(0, 12).forEach((delay, i) => {
      at += delay;
      expect(waitedJobReads(at), `${at} ms`).toBe(i + 1);
      expect(waitedJobReads(at + 1), `${at + 1} ms`).toBe(i + 2);
    });
    expect(waitedJobReads(0)).toBe(1);
  });

  it("prices a wait as held api duration plus its job reads, and a poll as a request, an invocation and two reads", () => {
    const renderSeconds = 4;
    const c = compareWaitWithPolling(simple, renderSeconds, 1);
    const reads = waitedJobReads(renderSeconds * 1000);
    const signer =
      per1000(1, AWS_PRICES.lambda.perRequest) +
      per1000(gbs(simple.signerMemoryMb, simple.signerMsPerInvocation), AWS_PRICES.lambda.gbSecond);
    expect(c.waitedPer1000).toBeCloseTo(
      per1000(gbs(simple.apiMemoryMb, renderSeconds * 1000), AWS_PRICES.lambda.gbSecond) +
        per1000(reads * readUnits(simple.jobItemBytes), AWS_PRICES.dynamodb.perReadRequestUnit) +
        signer,
      12,
    );
    const polls = renderSeconds;
    expect(c.polledPer1000).toBeCloseTo(
      per1000(polls, AWS_PRICES.apiGateway.perRequest) +
        per1000(polls, AWS_PRICES.lambda.perRequest) +
        per1000(polls * gbs(simple.apiMemoryMb, simple.apiMsPerRequest), AWS_PRICES.lambda.gbSecond) +
        per1000(polls * (simple.apiKeyReadsPerRequest + 1), AWS_PRICES.dynamodb.perReadRequestUnit) +
        signer,
      12,
    );
  });

  it("makes waiting the cheaper way only against eager polling, as held GB-s outweigh a request per second", () => {
    const held = per1000(gbs(simple.apiMemoryMb, 1000), AWS_PRICES.lambda.gbSecond);
    const poll =
      compareWaitWithPolling(simple, 1, 1).polledPer1000 - compareWaitWithPolling(simple, 0, 1).polledPer1000;
    // One second held at 512 MB costs more than one poll; ten polls a second cost more than that second.
    expect(held).toBeGreaterThan(poll);
    expect(compareWaitWithPolling(simple, 5, 1).waitedPer1000).toBeGreaterThan(
      compareWaitWithPolling(simple, 5, 1).polledPer1000,
    );
    expect(compareWaitWithPolling(simple, 5, 0.1).waitedPer1000).toBeLessThan(
      compareWaitWithPolling(simple, 5, 0.1).polledPer1000,
    );
  });

  it("refuses a render longer than the longest wait and a poll interval of 0", () => {
    expect(() => compareWaitWithPolling(simple, RENDER_WAIT.maxSeconds + 1, 1)).toThrow(RangeError);
    expect(() => compareWaitWithPolling(simple, 1, 0)).toThrow(RangeError);
  });
});

describe("render-cache hits and batch records", () => {
  it("prices a hit without a queue message, a worker or an S3 PUT, and below a rendered submission", () => {
    const hit = estimateCacheHit(simple);
    const services = new Set(hit.lines.filter((l) => l.perRender > 0).map((l) => l.service));
    expect(services.has("SQS")).toBe(false);
    expect(hit.lines.some((l) => /worker|PUT/.test(l.item) && l.perRender > 0)).toBe(false);
    // API Gateway, api, signer, 1 key read + the lookup, 3 writes: each line checkable by hand.
    const line = (item: string) => hit.lines.find((l) => l.item.startsWith(item));
    expect(line("REST API request")?.per1000).toBeCloseTo(0.0035, 6);
    expect(line("reads:")?.perRender).toBe(2);
    expect(line("writes:")?.perRender).toBe(1 + 3 + 1);
    expect(hit.per1000).toBeLessThan(estimateCost(simple).per1000WithoutDelivery);
    expect(blendWithCacheHits(0.04, 0.01, 0.5)).toBeCloseTo(0.025, 10);
    expect(() => blendWithCacheHits(0.04, 0.01, 1.5)).toThrow(RangeError);
  });

  it("prices a batch record without a POST, an Idempotency-Key, a lookup or a status read", () => {
    const record = estimateCost(batchRecordAssumptions(simple));
    const perRender = (item: string) => record.lines.find((l) => l.item.startsWith(item))?.perRender;
    expect(perRender("REST API requests")).toBe(0);
    expect(perRender("api invocations")).toBe(0);
    expect(perRender("idempotency key claims")).toBe(0);
    expect(perRender("render-cache lookup")).toBe(0);
    expect(perRender("send")).toBe(0.1);
    expect(perRender("fan-out duration")).toBeGreaterThan(0);
    expect(record.per1000).toBeLessThan(estimateCost(simple).per1000);
  });

  it("names what keeps a figure over its target, largest first, until the rest is under it", () => {
    const lines = [
      { service: "S3", item: "a", perRender: 1, unit: "request", unitPrice: 0, per1000: 0.005 },
      { service: "Lambda", item: "b", perRender: 1, unit: "GB-s", unitPrice: 0, per1000: 0.02 },
      { service: "SQS", item: "c", perRender: 1, unit: "request", unitPrice: 0, per1000: 0.001 },
    ] as const;
    const over = overTarget(lines, 0.026, 0.004);
    expect(over.map((o) => o.line.item)).toEqual(["b", "a"]);
    expect(over.map((o) => o.without)).toEqual([expect.closeTo(0.006, 10), expect.closeTo(0.001, 10)]);
    expect(overTarget(lines, 0.026, 0.03)).toEqual([]);
  });
});
