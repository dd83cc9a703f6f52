import { writeFileSync } from "node:fs";
import { printHookcastSchema } from "./schema.js";

/** `npm run schema:print`: writes schema/schema.graphql from the code. */
writeFileSync(new URL("../../../schema/schema.graphql", import.meta.url), await printHookcastSchema());
console.log("wrote schema/schema.graphql");
