"""Each of Table 4's frameworks says how deploybench reaches it here (runs, emulated or predicted only) and
why; the backends it names are registered ones, and a framework that runs or is emulated names one."""

from __future__ import annotations

from deploybench.backends.registry import registered
from deploybench.catalog import Catalog
from deploybench.catalog.schemas.framework import Reach


def test_every_framework_says_how_it_is_reached_and_why(builtin: Catalog) -> None:
    assert len(builtin.frameworks) == 16
    for framework in builtin.frameworks.values():
        assert framework.reach is not None, framework.name
        assert len(framework.reach.why) > 20, framework.name


def test_the_backends_a_framework_names_are_registered_and_reached_ones_name_theirs(builtin: Catalog) -> None:
    names = set(registered())
    for framework in builtin.frameworks.values():
        assert set(framework.backends) <= names, framework.name
        assert framework.reach is not None
        if framework.reach.how is Reach.PREDICTED:
            assert not framework.backends, framework.name
        else:
            named = set(framework.backends) or {b for b in names if f"`{b}`" in framework.reach.why}
            assert named and named <= names, framework.name
    n2d2 = builtin.frameworks["n2d2"].reach
    assert n2d2 is not None and n2d2.how is Reach.EMULATED and "`aidge-cortexm`" in n2d2.why
