"""The caption decoder: projection head -> soft-prefix tokens -> LLM with LoRA, and its training."""
