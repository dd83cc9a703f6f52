import type { ValueTransformer } from "typeorm";

/**
 * Column helpers shared by every entity. Types are always explicit (STYLE.md 7): emitted
 * decorator metadata is missing under esbuild and wrong for unions, and the same entity must map
 * identically on MySQL and SQLite.
 */

/** bigint columns come back as strings from mysql2; counters and sequences fit in a double. */
export const bigintToNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};

/** JSON kept as text (MySQL MEDIUMTEXT, SQLite TEXT) so both drivers store the exact bytes. */
export const jsonText: ValueTransformer = {
  to: (value: unknown) => (value === undefined ? undefined : JSON.stringify(value)),
  from: (value: string | null) => (value === null || value === undefined ? value : JSON.parse(value)),
};

/** booleans as 0/1 on both drivers. */
export const boolInt: ValueTransformer = {
  to: (value: boolean | undefined) => (value === undefined ? undefined : value ? 1 : 0),
  from: (value: number | string | boolean | null) => value === 1 || value === "1" || value === true,
};

/** `datetime(3)` column options: UTC, milliseconds (STACK.md traps 3 and 5). */
export const ms3 = { type: "datetime", precision: 3 } as const;
