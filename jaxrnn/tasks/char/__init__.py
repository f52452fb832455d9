"""Character language models: ``model`` (embedding, stacked cells, readout), ``step`` (the jitted
chunk of train steps and the evaluation), ``parallel`` (that chunk jitted data-parallel over a
batch mesh), ``loop`` (chunks, validation, samples, checkpoints,
resume), ``sample`` (text in one ``lax.scan``), ``main`` (Config, presets, ``jaxrnn char``) and
``sweep`` (a small character model as a sweep program)."""
