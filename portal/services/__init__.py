"""Portal-only services, one module per area (invitations, bulk, login, accounts)."""
