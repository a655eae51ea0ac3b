"""SLM Value Lab core: data, models, training, evaluation, cost and value. No Streamlit here."""

__version__ = "0.1.0"
