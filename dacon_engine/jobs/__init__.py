"""File jobs: the pipeline, worker processes, the engine service, the CLI, farm chunks, output claims and stop signals."""
