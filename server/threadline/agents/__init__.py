"""Agent adapters: everything specific to one agent CLI lives behind :class:`AgentAdapter`."""
