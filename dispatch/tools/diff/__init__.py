"""dispatch diff: two rule sets side by side, cell by cell and over a case history."""
