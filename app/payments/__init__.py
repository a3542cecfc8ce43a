"""Payments: one interface, three ways to pay (Stripe, invoice, credits), and the credit ledger."""
