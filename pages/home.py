"""Home: what the product does, the active dataset, and where to go next."""

import streamlit as st

from slm_core.llm import model_runs
from slm_core.models.names import model_description, model_name
from slm_core.models.registry import MODEL_IDS, get_spec
from ui.access import guard_page
from ui.navigation import page_link
from ui.state import active_dataset, get_store, lang, t
from ui.widgets import dataset_summary

guard_page()  # a page Streamlit runs without app.py is gated too

STEPS = ["data", "train", "results", "cost", "value", "report"]  # each says home.step_<page>

st.title(t("home.title"))
st.markdown(t("home.intro"))

dataset = active_dataset()
if dataset is None:
    st.info(t("home.no_dataset"))
else:
    with st.container(border=True):
        st.subheader(t("home.active_dataset"))
        dataset_summary(dataset)
        runs = model_runs(get_store().list_runs(dataset_id=dataset.id))
        done = [r for r in runs if r.status == "succeeded"]
        st.caption(t("home.runs_line", total=len(runs), done=len(done)))

st.subheader(t("home.steps"))
steps = st.columns(3)
for i, name in enumerate(STEPS):
    page_link(name, label=t(f"home.step_{name}"), where=steps[i % 3])

st.subheader(t("home.models"))
cols = st.columns(2)
for i, model_id in enumerate(MODEL_IDS):
    spec = get_spec(model_id)
    with cols[i % 2].container(border=True):
        st.markdown(
            f"**{model_name(spec.id, lang())}** · `{spec.id}` · {t('family.' + spec.family)}"
        )
        st.caption(model_description(spec.id, lang()))
