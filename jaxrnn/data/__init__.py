"""Data: sine series and windows (``sine``), a real-world series (``real``), text and
character vocabularies (``text``), the corpus registry (``corpora``), memory tasks (``memory``)."""
