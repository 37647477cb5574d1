"""One module per Hugging Face model_type, each with a FIXTURES list of common.Recipe; make_hf_models.py finds them."""
