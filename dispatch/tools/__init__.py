"""What rule maintainers run: check, test (golden), explain's text, coverage, diff; each command a package with its report.py."""
