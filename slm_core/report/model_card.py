"""Model cards in Markdown, after Mitchell et al. (2019), "Model Cards for Model Reporting".

The card's nine sections (model details, intended use, factors, metrics, evaluation data,
training data, quantitative analyses, ethical considerations, caveats and recommendations) are
filled from what was measured. What only people can say — the intended use, its users and
what the model must not be used for — is written on the Report page and stored with the card;
until then the card shows a draft derived from the data, marked as such, and the Value page's
transparency checklist does not count it.

The card's fields and their storage are in :mod:`slm_core.report.card_data`, its Markdown in
:mod:`slm_core.report.card_markdown`; this module is where the rest of the code imports both.
"""

from slm_core.models.names import model_description, model_name
from slm_core.report.card_data import (
    CARD_KIND,
    CARD_VERSION,
    SECTIONS,
    USER_FIELDS,
    CardText,
    ModelCard,
    build_model_card,
    model_cards,
    read_card_text,
    save_card_text,
    store_model_card,
)
from slm_core.report.card_markdown import SMALL_TEST_SET, md, model_card_markdown, section_title

__all__ = [
    "CARD_KIND",
    "CARD_VERSION",
    "SECTIONS",
    "SMALL_TEST_SET",
    "USER_FIELDS",
    "CardText",
    "ModelCard",
    "build_model_card",
    "md",
    "model_card_markdown",
    "model_cards",
    "model_description",
    "model_name",
    "read_card_text",
    "save_card_text",
    "section_title",
    "store_model_card",
]
