"""Datasets: ``text`` (character vocabularies, splits, streams) and ``corpora`` (named texts)."""
