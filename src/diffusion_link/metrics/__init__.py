"""What the evaluation measures: modality-gap figures and caption metrics."""
