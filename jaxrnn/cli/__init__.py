"""The ``jaxrnn`` command: ``main`` holds the table of subcommands; one module per subcommand
that is not a task (``sample``, ``gradcheck``, ``sweep``, ``reproduce``)."""
