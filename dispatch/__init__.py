"""dispatch: rule-based dispatch of city grid cases to the department that must handle them."""

__version__ = "0.1.0"
