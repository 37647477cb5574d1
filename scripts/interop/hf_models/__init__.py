"""Whole Hugging Face model folders as fixtures (make_hf_models.py): the shared machinery in common.py, the transcribed
forward pieces in blocks.py, one module per model family in families/ (found by the entry point, no list to edit)."""
