"""Fine-tuning: clip preparation, sampling, the composite loss, the training loop and run folders."""
