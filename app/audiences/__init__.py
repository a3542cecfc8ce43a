"""Who an issue goes to and why: the one interface the send pipeline asks."""
