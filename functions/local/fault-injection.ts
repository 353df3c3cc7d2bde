import type { Renderer } from "../core/ports.js";
import type { OutputOptions } from "../core/render-request.js";

/**
 * Faults for tests of the local stack. Only the local composition root can wrap a renderer with
 * this, and only when a caller passes faults in code: nothing in the deployed stack can turn it on.
 */
export interface RenderFaults {
  /**
   * Called before Chromium is asked. Return (or resolve to) an error to make this render fail;
   * a test may also hold the render here until it has observed what it needs.
   */
  readonly beforeRender: (html: string) => Error | undefined | Promise<Error | undefined>;
}

export class FaultInjectingRenderer implements Renderer {
  constructor(
    private readonly inner: Renderer,
    private readonly faults: RenderFaults,
  ) {}

  async render(html: string, output: OutputOptions): Promise<Uint8Array> {
    const fault = await this.faults.beforeRender(html);
    if (fault) throw fault;
    return this.inner.render(html, output);
  }
}
