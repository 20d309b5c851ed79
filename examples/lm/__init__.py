"""The scale example's pieces: data, model, sharded training, checkpoints, processes, report."""
