import {
  buildSchema,
  executeSync,
  getLocation,
  GraphQLError,
  Kind,
  parse,
  printSchema,
  Source,
  TypeInfo,
  validate,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLSchema,
} from "graphql";
import { AppError } from "../shared/errors.js";

/** Longest selection set accepted: 4,096 characters. */
export const MAX_SELECTION_LENGTH = 4_096;

/**
 * The user's text is parsed as the body of this fragment; the prefix has its own line, so a
 * location in the text is the fragment's location one line up.
 */
const PREFIX = "fragment HookSelection on Contact\n";

/** The operation that spreads the fragment, for validation against the real schema and for execution over a snapshot. */
const OPERATION = parse(`query HookSelectionQuery { contact(id: "snapshot") { ...HookSelection } }`).definitions[0];

/** Fields of the API that are resolved beside a rendering, so absent from event snapshots. */
const NOT_IN_SNAPSHOTS = new Set(["Contact.unsubscribeToken", "Contact.unsubscribeUrl", "List.publicToken", "List.formUrl"]);

/** A selection set ready to run over snapshots. */
export interface CompiledSelection {
  readonly text: string;
  readonly document: DocumentNode;
}

let apiSchema: Promise<GraphQLSchema> | undefined;
let snapshotSchema: Promise<GraphQLSchema> | undefined;

/** The API schema (imported lazily: the schema module imports every part, this one included). */
function getApiSchema(): Promise<GraphQLSchema> {
  apiSchema ??= import("../server/schema.js").then((m) => m.buildHookcastSchema());
  return apiSchema;
}

/**
 * The API's types rebuilt from SDL, with graphql-js' default resolvers: executing a document on
 * it with `{ contact: snapshot }` as root value reads the stored snapshot and nothing else.
 */
function getSnapshotSchema(): Promise<GraphQLSchema> {
  snapshotSchema ??= getApiSchema().then((schema) => buildSchema(printSchema(schema)));
  return snapshotSchema;
}

function invalid(message: string, field: string, locations?: ReadonlyArray<{ line: number; column: number }>, graphqlMessage?: string): AppError {
  return new AppError("INVALID_SELECTION", message, {
    field,
    extra: { ...(locations?.length ? { locations } : {}), ...(graphqlMessage ? { graphqlMessage } : {}) },
  });
}

/** Locations in the fragment source, as lines and columns of the user's text. */
function userLocations(error: GraphQLError, source: Source): Array<{ line: number; column: number }> {
  if (error.source && error.source !== source) return [];
  return (error.locations ?? []).map((l) => (l.line <= 1 ? { line: 1, column: 1 } : { line: l.line - 1, column: l.column }));
}

/**
 * Parses and validates `text` as a selection set on `Contact` against the API schema; returns
 * the trimmed text. `INVALID_SELECTION` (on `field`) with `extensions.locations` (line and column
 * in `text`) and `extensions.graphqlMessage` when it does not parse, does not match the schema,
 * is not exactly one selection set, or asks for fields that event snapshots do not hold.
 */
export async function validateSelection(text: string, field: string): Promise<string> {
  const trimmed = text.trim();
  if (trimmed.length === 0) throw invalid("selection must be a selection set such as { id email }", field);
  if (trimmed.length > MAX_SELECTION_LENGTH) throw invalid(`selection must be at most ${MAX_SELECTION_LENGTH} characters`, field);
  const source = new Source(PREFIX + trimmed, "selection");
  let fragment: DocumentNode;
  try {
    fragment = parse(source, { noLocation: false, maxTokens: 2_000 });
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    throw invalid(`selection does not parse: ${error.message}`, field, userLocations(error, source), error.message);
  }
  const [definition, extra] = fragment.definitions;
  if (extra || definition.kind !== Kind.FRAGMENT_DEFINITION || definition.directives?.length) {
    const node = extra ?? definition;
    const at = node.loc ? getLocation(source, node.loc.start) : undefined;
    const loc = at && at.line > 1 ? [{ line: at.line - 1, column: at.column }] : undefined;
    throw invalid("selection must be one selection set { … } on Contact, without operations, fragments or directives around it", field, loc);
  }
  const schema = await getApiSchema();
  const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [OPERATION, definition] };
  const errors = validate(schema, document);
  if (errors.length) {
    const [first] = errors;
    throw invalid(`selection is not valid on Contact: ${first.message}`, field, userLocations(first, source), first.message);
  }
  const typeInfo = new TypeInfo(schema);
  let refused: GraphQLError | null = null;
  visit(
    definition,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const parent = typeInfo.getParentType();
        const name = parent ? `${parent.name}.${node.name.value}` : "";
        if (!refused && NOT_IN_SNAPSHOTS.has(name)) refused = new GraphQLError(`${name} is not part of event snapshots`, { nodes: [node] });
      },
    }),
  );
  if (refused) {
    const error = refused as GraphQLError;
    throw invalid(`selection asks for ${error.message}; query it from the API instead`, field, userLocations(error, source), error.message);
  }
  return trimmed;
}

// Parsed documents by selection text (so per hook, and renewed when updateHook changes the text).
const compiled = new Map<string, CompiledSelection>();
const MAX_CACHED = 1_000;

/** The parsed document of a stored (already validated) selection, cached. */
export function compileSelection(text: string): CompiledSelection {
  let entry = compiled.get(text);
  if (!entry) {
    const fragment = parse(PREFIX + text).definitions[0];
    entry = { text, document: { kind: Kind.DOCUMENT, definitions: [OPERATION, fragment] } };
    if (compiled.size >= MAX_CACHED) compiled.clear();
    compiled.set(text, entry);
  }
  return entry;
}

/** Loads the snapshot schema; {@link applySelection} needs it loaded. Idempotent. */
export async function loadSelectionSchema(): Promise<GraphQLSchema> {
  return getSnapshotSchema();
}

/**
 * Runs a selection over a contact snapshot (the event's stored `data`, never the current row)
 * with graphql-js: the result has exactly the selected fields, aliases and `__typename`s.
 */
export function applySelection(schema: GraphQLSchema, selection: CompiledSelection, snapshot: unknown): unknown {
  const result = executeSync({ schema, document: selection.document, rootValue: { contact: snapshot } });
  return (result.data as { contact?: unknown } | null | undefined)?.contact ?? null;
}
