"""Execution: the gatekeeper's checks, where a bar fills an order, and what it costs."""
