"""Run plumbing, no maths: configs (``config``), run directories and atomic writes (``runs``),
checkpoints (``checkpoint``), the progress bar (``progress``) and the malloc setting the
``jaxrnn`` command applies at start (``malloc``)."""
