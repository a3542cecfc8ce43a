"""Co-op Data Club: the web service and the domain."""
