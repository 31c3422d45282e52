"""Progress views, and later metrics and signal handlers."""
