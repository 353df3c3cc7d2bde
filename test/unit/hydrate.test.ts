import { describe, expect, it } from "vitest";
import { PermanentRenderError } from "../../functions/core/errors.js";
import { hydrate } from "../../functions/core/hydrate.js";

describe("hydrate", () => {
  it("fills data into the template and escapes it by default", async () => {
    const html = await hydrate("<p>{{ name }}</p>{% for i in items %}<i>{{ i }}</i>{% endfor %}", {
      name: "<script>alert(1)</script>",
      items: [1, 2],
    });
    expect(html).toBe("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p><i>1</i><i>2</i>");
  });

  it("fails a bad template with template_error and the engine's reason", async () => {
    const err = await hydrate("{% if %}", {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentRenderError);
    expect((err as PermanentRenderError).code).toBe("template_error");
    expect((err as Error).message).toMatch(/line:1/);
  });

  it("cannot read files or reach prototypes", async () => {
    await expect(hydrate("{% include '/etc/passwd' %}", {})).rejects.toBeInstanceOf(PermanentRenderError);
    expect(await hydrate("[{{ o.constructor }}][{{ o.__proto__ }}]", { o: {} })).toBe("[][]");
  });

  it("rejects unknown filters instead of printing nothing", async () => {
    await expect(hydrate("{{ x | nosuchfilter }}", { x: 1 })).rejects.toThrow(/nosuchfilter/);
  });

  it('shows the job\'s clock for date: "now" and "today", and the real time without one', async () => {
    const template = '{{ "now" | date: "%Y-%m-%d %H:%M" }}|{{ "today" | date: "%Y" }}|{{ 0 | date: "%Y" }}';
    expect(await hydrate(template, {}, {}, "2031-04-05T06:07:08.000Z")).toBe("2031-04-05 06:07|2031|1970");
    const before = new Date().getUTCFullYear();
    const shown = Number(await hydrate('{{ "now" | date: "%Y" }}', {}));
    expect([before, new Date().getUTCFullYear()]).toContain(shown);
  });
});
