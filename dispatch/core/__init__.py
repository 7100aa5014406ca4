"""The rule set and its semantics: load, validate, compile, match, decide, explain. No web framework, no tools."""
