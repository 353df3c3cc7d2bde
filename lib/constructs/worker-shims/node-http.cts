// CommonJS on purpose: the bundle reads node:http's properties when used, as require() would. An ES
// import of the built-in reads every export up front, and three of them (WebSocket, CloseEvent,
// MessageEvent) load Node's bundled undici: ~20 ms of CPU at every cold start, for nothing the worker uses.
export = process.getBuiltinModule("node:http");
