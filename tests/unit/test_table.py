"""Reading a CSV for training: a table that cannot be used is refused, saying where and what to do."""

import re

import pytest

from training.table import TableError, read_table


HEADER = "a,b,kind\n"


@pytest.mark.parametrize("text, args, message", [
    ("", (), "is empty: expected a header row"),
    (HEADER, (), "has a header but no data rows"),
    ("a,b,label\n1,2,x\n", (), "has no column 'kind' to predict; its columns are a, b, label"),
    (HEADER + "1,2,x\n1,,y\n3,NA,x\n", (), "column 'b' is missing values in rows 2, 3"),
    (HEADER + "1,2,x\n1,2,\n", (), "target 'kind' is missing in row 2"),
    (HEADER + "1,red,x\n2,blue,y\n", (), "column 'b' is not numeric ('red' in row 1): drop it with --drop b"),
    (HEADER + "1,2,x\n1,2\n", (), "row 2 (data rows, counted from 1 after the header) should have 3 cells, like the header"),
    ("a,a,kind\n1,2,x\n", (), "column names ['a'] appear more than once"),
    (HEADER + "1,inf,x\n", (), "column 'b' is not numeric ('inf' in row 1)"),
    (HEADER + "1,2,x\n", ("nope",), "--drop names columns that do not exist: nope"),
], ids=["empty", "header-only", "no-target", "missing-values", "missing-target", "words", "ragged",
        "repeated-names", "infinite", "drop-unknown"])
def test_a_table_that_cannot_be_used_is_refused_saying_where(tmp_path, text, args, message):
    path = tmp_path / "data.csv"
    path.write_text(text)
    with pytest.raises(TableError, match=re.escape(message)):
        read_table(path, "kind", args)


def test_dropping_a_word_column_makes_the_table_usable(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("id,colour,x,kind\n" + "".join(f"r{i},red,{i},{i % 2}\n" for i in range(8)))
    table = read_table(path, "kind", ("id", "colour"))
    assert table.feature_names == ["x"] and table.features[:, 0].tolist() == list(range(8))
