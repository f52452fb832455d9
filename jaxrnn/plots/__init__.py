"""Figures from arrays or saved CSVs; nothing here trains or imports a task.

``common`` holds the shared helpers (figures are ``matplotlib.figure.Figure`` objects, built
without pyplot, so no backend is chosen on import; ``save`` writes the PNG), ``labels`` how
values, metrics and fields are written in tables and figures (and each metric's domain),
``rules`` what a figure may show (intervals, categorical axes, vanished values); ``sine``,
``char``, ``sweep`` and ``gradflow`` draw one family of figures each.
"""
