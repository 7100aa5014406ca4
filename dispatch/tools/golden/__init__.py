"""dispatch test: golden cases with expected answers, run through the compiled rule set."""
