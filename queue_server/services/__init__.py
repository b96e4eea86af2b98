"""Use cases: one transaction each, then events. Raise QueueError with stable codes."""
