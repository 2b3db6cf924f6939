"""Train, resume and evaluate run directories: the work behind the CLI commands."""
