"""Figures from arrays or saved CSVs; nothing here trains or imports a task.

``common`` holds the shared helpers (Agg backend chosen when a figure is saved); ``sine``,
``char``, ``sweep`` and ``gradflow`` draw one family of figures each.
"""
