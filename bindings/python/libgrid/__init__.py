"""libgrid: spatial core for police dispatch (stub)."""
