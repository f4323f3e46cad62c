"""JPS provision adapters: PostgreSQL, the encrypted medium, the printed lists."""
