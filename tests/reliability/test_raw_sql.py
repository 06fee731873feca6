"""SQL is built only with parameters: raw SQL passed to the database (`execute`, `raw`, `extra`, `RawSQL`,
COPY) may interpolate identifiers (table and column names from models, placeholder lists, constant SQL
fragments) but never a value; `%`-formatting and `str.format` into SQL are refused outright."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SQL_CALLS = {"execute", "executemany", "raw", "extra", "copy", "RawSQL", "mogrify"}
# Names that hold identifiers or SQL built from them, never user input: table and column names (from a
# model's _meta), placeholder lists ("%s, %s"), an upsert clause, constant SQL (UPPER_CASE) and the names
# of databases the benchmark harness creates.
IDENTIFIER_NAMES = re.compile(
    r"^(table|columns?|column_list|placeholders|values|upsert|query|name|template|building|old|sql|pk|"
    r"assignments|conditions?|where|clause|\w+_sql|\w+_clause|"
    r"db_table|[A-Z][A-Z0-9_]*)$"
)
SAFE_ATTRIBUTES = {"db_table", "column", "attname", "join", "quote_name"}


def _interpolations(node: ast.AST):
    if isinstance(node, ast.JoinedStr):
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                yield value.value
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        for side in (node.left, node.right):
            if not (isinstance(side, ast.Constant) and isinstance(side.value, str)):
                yield side


def _is_identifier_expression(expr: ast.AST) -> bool:
    """Only identifier-ish names, constants, counts, and joins or repeats of them."""
    if isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, ast.Name):
        return bool(IDENTIFIER_NAMES.match(expr.id))
    if isinstance(expr, ast.Attribute):
        return expr.attr in SAFE_ATTRIBUTES or bool(IDENTIFIER_NAMES.match(expr.attr))
    if isinstance(expr, ast.Call):
        if isinstance(expr.func, ast.Name) and expr.func.id == "len":
            return True  # a count is an integer, whatever it counts
        if isinstance(expr.func, ast.Attribute) and expr.func.attr in SAFE_ATTRIBUTES:
            return _is_identifier_expression(expr.func.value) and all(
                _is_identifier_expression(arg) for arg in expr.args
            )
        return False
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add | ast.Mult):
        return _is_identifier_expression(expr.left) and _is_identifier_expression(expr.right)
    if isinstance(expr, ast.Subscript):
        # A slice of a constant list of columns; never an item looked up by key (request.GET["x"]).
        return (
            isinstance(expr.slice, ast.Slice)
            and isinstance(expr.value, ast.Name)
            and (_is_identifier_expression(expr.value))
        )
    if isinstance(expr, ast.List | ast.Tuple):
        return all(_is_identifier_expression(element) for element in expr.elts)
    return False


def raw_sql_problems(source: str, filename: str) -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in SQL_CALLS:
            continue
        sql = node.args[0]
        where = f"{filename}:{node.lineno}"
        if isinstance(sql, ast.BinOp) and isinstance(sql.op, ast.Mod):
            problems.append(f"{where}: %-formatting into SQL; pass parameters instead")
        elif isinstance(sql, ast.Call) and isinstance(sql.func, ast.Attribute) and sql.func.attr == "format":
            problems.append(f"{where}: str.format into SQL; pass parameters instead")
        else:
            for expr in _interpolations(sql):
                if not _is_identifier_expression(expr):
                    problems.append(f"{where}: interpolates {ast.unparse(expr)!r} into SQL")
    return problems


def test_the_check_catches_values_formatted_into_sql():
    bad = """
def search(cursor, request, term):
    cursor.execute(f"SELECT * FROM crm_account WHERE name = '{term}'")
    cursor.execute("SELECT * FROM t WHERE id = %s" % request.GET["id"])
    cursor.execute("SELECT * FROM t WHERE name = '{}'".format(term))
    Model.objects.raw("SELECT * FROM t WHERE x = " + request.GET["x"])
"""
    good = """
def fine(cursor, table, columns, term):
    cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES (%s)", [term])
    cursor.execute(ELIGIBLE + "SELECT 1", {"x": term})
"""
    assert len(raw_sql_problems(bad, "bad.py")) == 4
    assert raw_sql_problems(good, "good.py") == []


def test_no_value_is_formatted_into_raw_sql():
    problems = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        # The application's code; bench/ and scripts/ are operator tools that never see a request.
        if any(
            part in {".venv", "tests", "node_modules", "static", "bench", "scripts"} for part in path.parts
        ):
            continue
        problems += raw_sql_problems(path.read_text(), str(path.relative_to(ROOT)))
    assert problems == []
