"""The five Kedro pipelines: data_prep, embedding, bridge_training, decoder_training, evaluation."""
