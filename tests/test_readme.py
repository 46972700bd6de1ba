"""README's Python example runs as written."""
import re
from pathlib import Path


def test_readme_swap_the_objective_example_runs(capsys):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert blocks, "README lost its Python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 -- running README's own example is the test
    assert "FeatureValue(upright)" in capsys.readouterr().out
    assert namespace["out"].action.shape == (8,)
