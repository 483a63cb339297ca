/**
 * The mailbox table of a tenant database: one row per (recipient principal, node)
 * delivered by an edge type declared `mailbox = field` (docs/mailbox.md), with the
 * recipient's own state of it (read, archived, starred).
 *
 * Derived state like every other table: only the applier writes it, from plan events
 * (deliveries) and `MailboxChange` events (state), so replaying the log rebuilds it byte
 * for byte. Created on open when missing (`IF NOT EXISTS`), so files made before it
 * existed gain it without a layout change. A trigger removes a node's items when the
 * node is deleted, in the same transaction, so an item never names a missing node.
 */

/** The statements creating the mailbox table, its indexes and its trigger. */
export const MAILBOX_TABLE_DDL: readonly string[] = [
  // `reason` is the id of the edge type that delivered the item; `delivered_at` the
  // delivering event's ingress time (microseconds), so replay gives the same value.
  "CREATE TABLE IF NOT EXISTS mailbox_items (recipient TEXT NOT NULL, node_id TEXT NOT NULL, type_id INTEGER NOT NULL, reason INTEGER NOT NULL, delivered_at INTEGER NOT NULL, read INTEGER NOT NULL, archived INTEGER NOT NULL, starred INTEGER NOT NULL, PRIMARY KEY (recipient, node_id)) STRICT, WITHOUT ROWID",
  // Newest-first keyset pages of one mailbox.
  "CREATE INDEX IF NOT EXISTS mailbox_items_by_time ON mailbox_items(recipient, delivered_at, node_id)",
  // Unread counts without reading the read items.
  "CREATE INDEX IF NOT EXISTS mailbox_items_unread ON mailbox_items(recipient, type_id) WHERE read = 0 AND archived = 0",
  "CREATE INDEX IF NOT EXISTS mailbox_items_by_node ON mailbox_items(node_id)",
  "CREATE TRIGGER IF NOT EXISTS mailbox_items_node_deleted AFTER DELETE ON nodes BEGIN DELETE FROM mailbox_items WHERE node_id = old.id; END",
];
