"""BaseGear's own implementations of AWS API actions (``protocol.Provider``), offered each
request before moto."""
