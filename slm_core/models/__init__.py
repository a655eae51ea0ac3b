"""Model zoo: TF-IDF linear baselines and Keras neural classifiers behind one registry.

Import ``slm_core.models.registry`` for the API; it loads scikit-learn and TensorFlow only
when a model is built or loaded.
"""
