"""The model every other part builds on: typed records, the items a host feeds the engine, flow time, state with expiry and timers, facts, evidence, configuration. Imports nothing above it."""
