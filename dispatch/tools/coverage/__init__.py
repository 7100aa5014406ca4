"""`dispatch coverage`: the event category x town map of what dispatches automatically.

core/coverage.py computes it and its JSON document (the service's GET /v1/coverage serves it too), report.py writes it as text and JSON, page.py as an HTML
page, heatmap.py as a PNG picture (matplotlib, imported only there); scale.py holds the
colours and number labels the pictures share.
"""
