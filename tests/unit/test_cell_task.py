"""Which notebook names %%remote ships with a cell."""

from jupyter_raylite.jupyter.cell_task import names_to_ship, run_cell_body


def test_cell_task_ships_free_names_only():
    namespace = {"data": [1, 2], "f": "an open file", "n": 3, "unused": 0, "max": "mine"}
    source = ("def g(f):\n    return f\n"
              "squares = [x * x for x in data]\n"
              "n += 1\n"
              "max(squares) if False else g(n)\n")
    # f is g's parameter, x the comprehension's; unused is never read; max is the notebook's.
    assert names_to_ship(source, namespace) == {"data": [1, 2], "max": "mine", "n": 3}


def test_cell_task_ships_a_variable_that_shadows_a_builtin_and_skips_hidden_names():
    namespace = {"id": 41, "In": ["..."], "_idx": 1}
    assert names_to_ship("id + _idx + len(In)", namespace, hidden={"In"}) == \
        {"_idx": 1, "id": 41}


def test_cell_task_runs_the_body_and_returns_the_last_expression():
    assert run_cell_body("y = source * 2\ny + 1", "<cell>", source=20) == 41
    assert run_cell_body("z = 1", "<cell>") is None
