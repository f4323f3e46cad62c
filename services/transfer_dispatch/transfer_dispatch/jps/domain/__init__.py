"""JPS provision rules, free of I/O."""
