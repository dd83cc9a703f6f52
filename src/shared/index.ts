export * from "./errors.js";
export * from "./ids.js";
export * from "./clock.js";
export * from "./mutex.js";
export * from "./cursor.js";
export * from "./logger.js";
export * from "./request-scope.js";
