"""The pure domain of Duban: aggregates, events and rules. No I/O lives here."""
