export { ContactEntity, ContactTagEntity } from "./contact.entity.js";
export { ListEntity, ListMembershipEntity } from "./list.entity.js";
export { ContactResolver } from "./contact.resolver.js";
export { ContactType, ListType, ListMembershipType, PageInfoType } from "./contact.types.js";
export * from "./contact.service.js";
export { renderContacts, renderContact, renderList } from "./render-contact.js";
export { LIMITS } from "./validate.js";
