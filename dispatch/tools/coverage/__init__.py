"""`dispatch coverage`: the event category x town map of what dispatches automatically.

matrix.py computes it, render.py writes it as a text table and JSON, page.py as an HTML
page, heatmap.py as a PNG picture (matplotlib, imported only there); scale.py holds the
colours and number labels the pictures share.
"""
