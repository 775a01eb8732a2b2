"""Double-entry, append-only ledger (TigerBeetle's model, on SQL)."""
