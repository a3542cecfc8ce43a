"""The consent ledger: versioned consent texts, append-only hash-chained events, receipts."""
