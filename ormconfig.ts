import "reflect-metadata";
import { DataSource } from "typeorm";
import { loadConfig } from "./src/config.js";
import { dataSourceOptions } from "./src/db/data-source.js";

/**
 * The DataSource for the TypeORM CLI (`npm run typeorm -- migration:show`), built from
 * `DATABASE_URL` exactly as the app builds it. Run it against `dist/` after `npm run build`.
 */
export default new DataSource(dataSourceOptions(loadConfig().databaseUrl));
