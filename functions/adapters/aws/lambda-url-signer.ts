import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import { z } from "zod";
import type { SignedUrl, UrlSigner } from "../../core/ports.js";

const SignResponseSchema = z.object({
  urls: z.array(z.object({ key: z.string(), url: z.string(), expiresAt: z.string() })),
});

const FunctionErrorSchema = z.object({ errorType: z.string().optional(), errorMessage: z.string() });

/** Raised when the signer function ran and failed (Lambda's `FunctionError`). */
export class SignerFunctionError extends Error {
  constructor(
    readonly functionName: string,
    readonly errorType: string,
    readonly errorMessage: string,
  ) {
    super(`Signer function ${functionName} failed: ${errorType}: ${errorMessage}`);
    this.name = "SignerFunctionError";
  }
}

/**
 * The api and worker side of URL signing: asks the signer function, which alone can read the private
 * key, to sign. `functionName` names the caller's alias (`<signer>:api`), which decides what the signer
 * signs for it. Works against AWS Lambda and against the local Invoke API alike.
 */
export class LambdaUrlSigner implements UrlSigner {
  constructor(
    private readonly client: LambdaClient,
    private readonly functionName: string,
  ) {}

  async sign(tenant: string, keys: readonly string[], ttlSeconds?: number): Promise<SignedUrl[]> {
    const response = await this.client.send(
      new InvokeCommand({
        FunctionName: this.functionName,
        InvocationType: "RequestResponse",
        Payload: new TextEncoder().encode(JSON.stringify({ tenant, keys, ttlSeconds })),
      }),
    );
    const text = response.Payload ? new TextDecoder().decode(response.Payload) : "";
    if (response.FunctionError) {
      const parsed = FunctionErrorSchema.safeParse(safeJson(text));
      throw new SignerFunctionError(
        this.functionName,
        parsed.success ? (parsed.data.errorType ?? response.FunctionError) : response.FunctionError,
        parsed.success ? parsed.data.errorMessage : "no error message in the response",
      );
    }
    const parsed = SignResponseSchema.safeParse(safeJson(text));
    if (!parsed.success) {
      throw new Error(`Signer function ${this.functionName} returned a response without a urls array.`);
    }
    return parsed.data.urls;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
