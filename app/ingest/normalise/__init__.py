"""HAE wire objects -> storage rows. Pure functions: no I/O, so every shape is unit-testable."""
