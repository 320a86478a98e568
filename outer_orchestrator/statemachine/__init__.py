"""The outer loop's state machine: its ASL source and the module that expands it."""
