/**
 * @cantoo/pdf-lib and its fontkit, loaded on the first PDF that needs finishing or merging. In Lambda
 * a bundle file of its own (the functions' `chunks`): about a third of the render worker's code, which
 * a cold start would otherwise compile for renders that never use it.
 */

export { default as fontkit } from "@cantoo/fontkit";
export * as pdfLib from "@cantoo/pdf-lib";
