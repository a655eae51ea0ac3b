"""The explicit page list: (file, title key in the catalogue, icon). Order = sidebar order."""

PAGES: list[tuple[str, str, str]] = [
    ("pages/home.py", "nav.home", ":material/home:"),
    ("pages/data.py", "nav.data", ":material/table:"),
    ("pages/train.py", "nav.train", ":material/model_training:"),
    ("pages/results.py", "results.nav", ":material/leaderboard:"),
    ("pages/playground.py", "playground.nav", ":material/science:"),
    ("pages/cost.py", "cost.nav", ":material/payments:"),
    ("pages/value.py", "nav.value", ":material/balance:"),
    ("pages/report.py", "nav.report", ":material/description:"),
    ("pages/present.py", "nav.present", ":material/co_present:"),
]
