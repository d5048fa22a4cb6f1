"""The half-yearly and yearly report: aggregates of the exchange, never a name."""
