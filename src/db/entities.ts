import { AccountEntity } from "../accounts/account.entity.js";
import { ApiKeyEntity } from "../accounts/api-key.entity.js";
import { ContactEntity, ContactTagEntity } from "../contacts/contact.entity.js";
import { ListEntity, ListMembershipEntity } from "../contacts/list.entity.js";
import { DeliveryAttemptEntity, DeliveryEntity } from "../delivery/delivery.entity.js";
import { EventEntity } from "../events/event.entity.js";
import { HookEntity } from "../hooks/hook.entity.js";

/** Every entity class (TypeORM 1.x takes classes, not globs). Entity files are imported directly to avoid cycles through the parts' index files. */
export const ENTITIES = [
  AccountEntity,
  ApiKeyEntity,
  ContactEntity,
  ContactTagEntity,
  ListEntity,
  ListMembershipEntity,
  EventEntity,
  HookEntity,
  DeliveryEntity,
  DeliveryAttemptEntity,
];
