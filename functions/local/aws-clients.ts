/**
 * Client settings for the local stand-ins. The stand-ins accept any credentials; checksums are only
 * computed when an API requires them because the stand-ins do not validate CRC32 trailers.
 */
export const LOCAL_REGION = "us-east-1";

export interface LocalEndpoints {
  /** fauxqs: SQS and S3 on one port. */
  readonly sqsS3: string;
  /** dynalite. */
  readonly dynamodb: string;
  /** The local Lambda Invoke API. */
  readonly lambda: string;
}

export function localClientConfig(endpoint: string) {
  return {
    endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: "kiln-local", secretAccessKey: "kiln-local" },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
  } as const;
}
