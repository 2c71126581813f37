"""What the evaluation measures: modality-gap figures and Tables 1-2 (``modality_gap``,
``gap_tables``), caption metrics and Tables 3-4 (``caption_metrics`` with its Java runners and
baseline, ``caption_tables``). No Kedro."""
