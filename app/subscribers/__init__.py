"""Topics, subscribers and their subscriptions, suppressions, and the ways people sign up."""
