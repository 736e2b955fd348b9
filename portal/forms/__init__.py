"""The console's forms, one module per area like ``portal.views``."""
