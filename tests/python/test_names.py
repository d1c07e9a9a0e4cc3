"""One spelling per public name, the other an alias of the same object; the two Lever classes have
names of their own (the old name kept where it was public)."""

import importlib

import lcsim
import lcsim.__main__ as cli
import lcsim.analysis
import lcsim.app

# lcsim.optimise is the function; its module is reached by name
optimise_module = importlib.import_module("lcsim.optimise")


def test_analyze_is_canonical_and_analyse_an_alias():
    assert lcsim.analyse is lcsim.analyze is lcsim.analysis.analyze
    assert lcsim.analyze.__name__ == "analyze"
    assert "analyse" in lcsim.__all__ and "analyse" in lcsim.analysis.__all__


def test_optimise_is_canonical_and_optimize_an_alias():
    assert lcsim.optimize is lcsim.optimise is optimise_module.optimise is optimise_module.optimize
    assert lcsim.optimise.__name__ == "optimise"
    assert "optimize" in lcsim.__all__


def test_the_two_lever_classes_have_distinct_names_and_keep_the_old_one():
    assert optimise_module.SearchLever is not lcsim.app.AppLever
    assert optimise_module.Lever is optimise_module.SearchLever
    assert lcsim.app.Lever is lcsim.app.AppLever
    assert optimise_module.SearchLever.__name__ == "SearchLever"
    assert lcsim.app.AppLever.__name__ == "AppLever"
    assert {"SearchLever", "Lever"} <= set(optimise_module.__all__)
    assert {"AppLever", "Lever"} <= set(lcsim.app.__all__)


def test_the_command_line_takes_both_spellings_of_optimise_and_its_goals():
    parser = cli._parser()
    for verb in ("optimise", "optimize"):
        for goal in ("--maximise", "--maximize"):
            args = parser.parse_args([verb, "base.yaml", "--lever", "a.b=0:1", goal, "conversions"])
            assert args.maximise == "conversions"
    args = parser.parse_args(["optimize", "base.yaml", "--lever", "a.b=0:1", "--minimize", "cost"])
    assert args.minimise == "cost"
    # the alias is told as the canonical verb: a bad scenario path is reported by lcsim optimise
    assert cli.main(["optimize", "/nonexistent/base.yaml", "--lever", "a.b=0:1"]) == 2
