export { AccountEntity } from "./account.entity.js";
export { ApiKeyEntity } from "./api-key.entity.js";
export { type Actor, systemActor } from "./actor.js";
export { createAccount, bootstrapAccount, authenticate, apiKeyFromHeaders, hashApiKey, generateApiKey, getAccount, type CreatedAccount } from "./account.service.js";
export { AccountResolver } from "./account.resolver.js";
export { AccountType } from "./account.types.js";
