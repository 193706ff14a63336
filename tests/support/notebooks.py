"""What a user's notebook makes: models fitted on a DataFrame read from a CSV, saved with joblib.dump.

Coffee lots with two word columns (``origin``, ``roast``) and two numbers,
graded ``commercial``, ``premium`` or ``specialty``. The notebook one-hot
encodes the words by column name in a ``ColumnTransformer`` and fits a
random forest (``n_jobs=-1``) or a histogram gradient-boosting classifier
behind it. The live tests and the container proof import these files.

    python -m tests.support.notebooks OUT_DIR
"""

import sys
from pathlib import Path

import joblib
import numpy as np

ORIGINS, ROASTS = ("Antigua", "Huila", "Kona", "Sidamo"), ("dark", "light", "medium")
WORDS = ("origin", "roast")
TARGET = "grade"
LOTS_CSV = "lots.csv"
# file name -> what the notebook fits behind the ColumnTransformer
PIPELINES = {"lots_forest.joblib": "forest", "lots_boosted.joblib": "boosted"}


def write_lots_table(path: Path, rows: int = 200, seed: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    lines = [f"origin,acidity,roast,body,{TARGET}"]
    for _ in range(rows):
        origin, roast = rng.choice(ORIGINS), rng.choice(ROASTS)
        acidity, body = round(rng.uniform(5, 9), 2), round(rng.uniform(5, 9), 2)
        grade = "specialty" if origin in ("Kona", "Sidamo") and acidity > 6.5 else \
            "premium" if body > 7 else "commercial"
        lines.append(f"{origin},{acidity},{roast},{body},{grade}")
    path.write_text("\n".join(lines) + "\n")
    return path


def fit_pipeline(table: Path, kind: str):
    """The notebook's cells: read the CSV, encode the words by name, fit."""
    import pandas
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    lots = pandas.read_csv(table)
    model = (RandomForestClassifier(n_estimators=50, max_depth=6, n_jobs=-1, random_state=0) if kind == "forest"
             else HistGradientBoostingClassifier(max_iter=30, random_state=0))
    encode = ColumnTransformer([("words", OneHotEncoder(), list(WORDS))], remainder="passthrough")
    return make_pipeline(encode, model).fit(lots.drop(columns=TARGET), lots[TARGET])


def write_notebook_models(out_dir: Path) -> Path:
    """The CSV and every pipeline of ``PIPELINES``, dumped in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table = write_lots_table(out_dir / LOTS_CSV)
    for filename, kind in PIPELINES.items():
        joblib.dump(fit_pipeline(table, kind), out_dir / filename)
    return out_dir


if __name__ == "__main__":
    print(write_notebook_models(Path(sys.argv[1])))
