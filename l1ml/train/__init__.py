"""Training of the zoo models (Brevitas QAT and float twins)."""
