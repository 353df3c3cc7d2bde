import { type LogItem, Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import type { ConstructorOptions } from "@aws-lambda-powertools/logger/types";
import type { Context } from "aws-lambda";
import type { Logger } from "../core/ports.js";
import { redact } from "../core/redaction.js";

/** `json`: one object per line, what CloudWatch Logs Insights queries. `pretty`: for a person at a terminal. */
export type LogFormat = "json" | "pretty";

export interface PowertoolsLoggerOptions {
  /** The `service` of every line; on Lambda the function's name in Kiln (api, render-worker, …). */
  readonly serviceName: string;
  /** Where each finished (redacted, JSON) line goes. @default standard output */
  readonly write?: (line: string) => void;
}

const toStdout = (line: string) => {
  process.stdout.write(`${line}\n`);
};

/**
 * Powertools' Logger with one change: a line is redacted as a whole (message, keys, nested fields)
 * just before it is written, and written where Kiln says rather than always to the console.
 */
class RedactingLogger extends PowertoolsLogger {
  // Not a #private field: Powertools may print while its constructor runs, before fields exist.
  private destination?: (attributes: Record<string, unknown>) => void;

  constructor(options: ConstructorOptions, destination: (attributes: Record<string, unknown>) => void) {
    super(options);
    this.destination = destination;
  }

  /**
   * `createChild` hands the child its parent's stored context, whose `coldStart` says whether this
   * invocation is the environment's first. Powertools would ask the child's own flag instead, which is
   * true the first time any new logger asks: every job's lines would say cold_start true, warm or not.
   */
  public override addContext(context: Parameters<PowertoolsLogger["addContext"]>[0]): void {
    if ("coldStart" in context && typeof context.coldStart === "boolean") this.coldStart = context.coldStart;
    super.addContext(context);
  }

  protected override createLogger(options?: ConstructorOptions): RedactingLogger {
    return new RedactingLogger(options ?? {}, this.destination ?? printJson(toStdout));
  }

  protected override printLog(_logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    // Through Powertools' own replacer first, so errors, BigInts and cycles serialise as usual.
    const plain = JSON.parse(JSON.stringify(log.getAttributes(), this.getJsonReplacer())) as Record<
      string,
      unknown
    >;
    (this.destination ?? printJson(toStdout))(redact(plain) as Record<string, unknown>);
  }
}

const printJson = (write: (line: string) => void) => (attributes: Record<string, unknown>) =>
  write(JSON.stringify(attributes));

/** Kiln's `Logger` port over Powertools, plus what a Lambda entry needs to scope it to an invocation. */
export class KilnLogger implements Logger {
  constructor(private readonly powertools: PowertoolsLogger) {}

  debug(message: string, fields?: Record<string, unknown>): void {
    this.powertools.debug(message, fields ?? {});
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.powertools.info(message, fields ?? {});
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.powertools.warn(message, fields ?? {});
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.powertools.error(message, fields ?? {});
  }

  child(fields: Record<string, unknown>): Logger {
    return new KilnLogger(this.powertools.createChild({ persistentKeys: fields } as ConstructorOptions));
  }

  /**
   * Adds the Lambda context (function name, request id, cold start) to this logger's lines and its
   * children's, and decides afresh whether this invocation is sampled at DEBUG.
   */
  startInvocation(context: Context): void {
    this.powertools.addContext(context);
    this.powertools.refreshSampleRateCalculation();
  }
}

/**
 * The logger of a Lambda function or the local stack. Level and sampling come from the standard
 * Powertools variables (POWERTOOLS_LOG_LEVEL, POWERTOOLS_LOGGER_SAMPLE_RATE).
 */
export function powertoolsLogger(options: PowertoolsLoggerOptions): KilnLogger {
  const destination = printJson(options.write ?? toStdout);
  return new KilnLogger(new RedactingLogger({ serviceName: options.serviceName }, destination));
}

/**
 * How the local stack prints its lines: `KILN_LOG_FORMAT` when set (json or pretty), else pretty at a
 * terminal and JSON when piped.
 */
export function localLogFormat(setting: string | undefined, isTty: boolean): LogFormat {
  const wanted = setting?.trim().toLowerCase();
  if (wanted === "json" || wanted === "pretty") return wanted;
  return isTty ? "pretty" : "json";
}

/**
 * Wraps a handler so each invocation's lines carry the Lambda context; the composition root's way of
 * doing what Powertools' injectLambdaContext decorator does.
 */
export function withLambdaContext<E, R>(
  logger: KilnLogger,
  handler: (event: E, context?: Context) => Promise<R>,
): (event: E, context?: Context) => Promise<R> {
  return (event, context) => {
    // Lambda always passes a context; a direct call (a test, a script) may not.
    if (context) logger.startInvocation(context);
    return handler(event, context);
  };
}
