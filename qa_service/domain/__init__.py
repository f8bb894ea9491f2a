"""Pure types every stage shares: enums, the call result, call metadata, masking, JSON models.

Imports nothing of the package but `config` and `exceptions`."""
