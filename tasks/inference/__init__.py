"""Talking to Triton: the base client (channels, slots, cause-classified retries), the wire codec and
one client per model shape. Imports nothing else from tasks/."""
