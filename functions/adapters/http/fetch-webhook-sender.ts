import type { WebhookSender } from "../../core/ports.js";

/**
 * POSTs webhooks with fetch. Redirects are not followed (a 3xx counts as a failed delivery): a
 * receiver that moved must update its callback URL, and a redirect must not lead Kiln elsewhere.
 */
export class FetchWebhookSender implements WebhookSender {
  async post(url: string, headers: Readonly<Record<string, string>>, body: string, timeoutMs: number) {
    const res = await fetch(url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Read (and drop) the answer so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
    return { status: res.status };
  }
}
