"""Mail: one transport interface (SMTP or file outbox), email templates, transactional mail."""
