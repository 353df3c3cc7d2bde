/**
 * Stands in for chromium-bidi in the render worker's bundle. puppeteer-core needs it only to speak
 * WebDriver BiDi to Chrome; Kiln launches Chromium over CDP, so its ~180 KB would be compiled for nothing.
 */
export const BidiMapper = {
  get BidiServer(): never {
    throw new Error(
      "Kiln's render worker is bundled without WebDriver BiDi: launch Chromium with protocol 'cdp'",
    );
  },
};
