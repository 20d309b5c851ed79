"""The digits CNN example: data, model, training steps and the final report."""
