"""Pure rule functions over the rulebook version in force: no clock, no I/O."""
