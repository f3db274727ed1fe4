"""The live agent: one core loop that owns the engine and the journal, fed by links."""
