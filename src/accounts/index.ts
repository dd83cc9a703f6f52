export { AccountEntity } from "./account.entity.js";
export { ApiKeyEntity } from "./api-key.entity.js";
export { type Actor, systemActor, publicActor } from "./actor.js";
export { createAccount, bootstrapAccount, authenticate, apiKeyFromHeaders, hashApiKey, generateApiKey, getAccount, createApiKey, type CreatedAccount, type CreatedApiKey, type ApiKeySource } from "./account.service.js";
export { AccountResolver } from "./account.resolver.js";
export { AccountType } from "./account.types.js";
