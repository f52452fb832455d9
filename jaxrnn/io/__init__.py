"""Run plumbing, no maths: configs (``config``), run directories and atomic writes (``runs``),
checkpoints (``checkpoint``), the progress bar (``progress``), and the process settings the
``jaxrnn`` command applies at its entry: the compile cache and x64 (``settings``) and glibc's
malloc tuning (``malloc``, formerly ``host``)."""
