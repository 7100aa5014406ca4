"""dispatch calendar: a rule set's `days` file (holidays and make-up workdays) from a well-kept library."""
