"""dispatch check: load, validate and compile as the service does, and report everything."""
