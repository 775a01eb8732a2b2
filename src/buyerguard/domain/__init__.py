"""The pure model and rules: no I/O, no clock, no database, no framework."""
