"""``python -m lcsim report|app|optimise``: the verbs of the ``lcsim`` command that are made in Python (the
C++ program hands them here). Exit 0 ok, 2 bad input (one line naming the file), 1 internal error."""

from __future__ import annotations

import argparse
import os
import sys

from ._extras import MissingExtraError, missing_extra


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lcsim", description="lcsim's pages for strategists")
    verbs = parser.add_subparsers(dest="verb", required=True)
    report = verbs.add_parser("report", help="write a study as one self-contained HTML page")
    report.add_argument("study", help="the study file (.h5)")
    report.add_argument("--out", "-o", required=True, help="the HTML file to write")
    report.add_argument("--title", help="the page title (default: the study's file name)")
    app = verbs.add_parser("app", help="what-if in the browser, on 127.0.0.1")
    app.add_argument(
        "scenarios", nargs="*", help="baseline scenarios to offer (default: the bundled ones)"
    )
    app.add_argument("--port", type=int, default=8050)
    app.add_argument(
        "--replications",
        type=int,
        default=None,
        help="paired replications per comparison (default: the scenario's, as lcsim compare)",
    )
    app.add_argument("--save-dir", default=None)
    opt = verbs.add_parser(
        "optimise",
        aliases=["optimize"],  # one spelling, optimise; the other an alias (as the C++ program's)
        help="the best plan under a budget",
        description="Search the levers for the plan that maximises (or minimises) a metric subject to "
        "constraints, on common random numbers, then re-evaluate the best plans on fresh paired "
        "replications (lcsim.optimise; docs/optimise.md).",
    )
    opt.add_argument("scenario", help="the base scenario (.yaml)")
    opt.add_argument(
        "--lever",
        action="append",
        required=True,
        metavar="PATH=LOW:HIGH|PATH=[A,B,...]",
        help="a dotted scenario path and its range (whole numbers when both ends are) or choices "
        "(a YAML list); repeat for each lever",
    )
    goal = opt.add_mutually_exclusive_group()
    goal.add_argument(
        "--maximise",
        "--maximize",
        metavar="METRIC",
        help="metric to maximise (default net_value; --maximize is an alias)",
    )
    goal.add_argument(
        "--minimise", "--minimize", metavar="METRIC", help="metric to minimise (alias --minimize)"
    )
    opt.add_argument(
        "--subject-to",
        action="append",
        default=[],
        metavar="METRIC<=VALUE",
        help="a constraint on the mean per replication; repeatable",
    )
    opt.add_argument(
        "--at-least",
        action="append",
        default=[],
        metavar="METRIC>=VALUE@P",
        help="a chance constraint: met in at least a share P of the replications; repeatable",
    )
    opt.add_argument(
        "--budget", type=float, help="shorthand for --subject-to touchpoint_cost<=BUDGET"
    )
    opt.add_argument(
        "--trials", type=int, default=60, help="plans proposed by the search (default 60)"
    )
    opt.add_argument(
        "--replications", type=int, help="per plan in the search (default: the scenario's)"
    )
    opt.add_argument(
        "--final-replications", type=int, help="per plan in the selection step (default 4x, >= 40)"
    )
    opt.add_argument(
        "--finalists", type=int, default=3, help="plans re-evaluated at the end (default 3)"
    )
    opt.add_argument("--batch", type=int, default=8, help="plans proposed at a time (default 8)")
    opt.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        help="a lead over the runner-up below this (objective's unit) is called practically the same",
    )
    opt.add_argument(
        "--progress",
        action="store_true",
        help="the progress bar on stderr even when it is not a terminal (default: only on a terminal)",
    )
    opt.add_argument("--seed", type=int, help="default: the scenario's")
    opt.add_argument("--threads", type=int, help="threads per plan (default: all cores)")
    opt.add_argument("--out", help="add the optimisation to this study (.h5)")
    opt.add_argument(
        "--name", default="optimisation", help="its name in the study (default optimisation)"
    )
    opt.add_argument("--variant-out", help="write the chosen plan as an extends: file here")
    opt.add_argument("--trials-csv", help="write every plan tried as CSV here")
    return parser


def _lever(text: str):
    """PATH=LOW:HIGH (a range) or PATH=[A, B, ...] (choices), values read as YAML."""
    import yaml

    path, sep, spec = text.partition("=")
    path, spec = path.strip(), spec.strip()
    if not sep or not path or not spec:
        raise ValueError(f"--lever {text!r}: expected PATH=LOW:HIGH or PATH=[A, B, ...]")
    if spec.startswith("["):
        try:
            choices = yaml.safe_load(spec)
        except yaml.YAMLError:
            raise ValueError(f"--lever {text!r}: {spec!r} is not a YAML list") from None
        if not isinstance(choices, list):
            raise ValueError(f"--lever {text!r}: {spec!r} is not a YAML list")
        return path, choices
    low, sep, high = spec.partition(":")
    try:
        bounds = (yaml.safe_load(low), yaml.safe_load(high)) if sep else None
    except yaml.YAMLError:
        bounds = None
    if bounds is None or not all(
        isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds
    ):
        raise ValueError(
            f"--lever {text!r}: expected PATH=LOW:HIGH with two numbers, or PATH=[A, B, ...]"
        )
    return path, bounds


def _check_free(study: str, name: str) -> None:
    """Fails before the search if the study cannot take the result under that name."""
    import os

    from . import _core

    if not os.path.exists(study):
        return
    for kind, names in (
        ("optimisation", _core.study_optimisations(study)),
        ("comparison", _core.study_comparisons(study)),
    ):
        if name in names:
            raise ValueError(
                f"{study} already has {'an' if kind[0] == 'o' else 'a'} {kind} '{name}'; choose another --name"
            )


def _optimise(args) -> int:
    from .optimise import optimise

    levers = dict(_lever(t) for t in args.lever)
    if args.out:
        _check_free(args.out, args.name)
    objective, direction = (
        (args.minimise, "minimise") if args.minimise else (args.maximise or "net_value", "maximise")
    )
    try:
        from tqdm import tqdm
    except ImportError as e:  # lcsim[optimise]
        raise missing_extra("optimise", e) from e

    # On stderr, only on a terminal or when asked: logs and captured output stay clean.
    try:  # a terminal of unknown size says 0 x 0, and tqdm hides bars below a terminal's last row
        size = os.get_terminal_size(sys.stderr.fileno())
        columns, rows = size.columns or 100, size.lines or 24
    except OSError:
        columns, rows = 100, 24
    bar = tqdm(
        total=args.trials,
        desc="searching",
        unit="plan",
        file=sys.stderr,
        ncols=min(columns, 100),
        nrows=rows,
        disable=not (args.progress or sys.stderr.isatty()),
    )

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)
        if done >= total:
            bar.set_description("search done; re-evaluating the finalists")

    try:
        opt = optimise(
            args.scenario,
            levers,
            objective,
            direction=direction,
            constraints=list(args.subject_to) + list(args.at_least),
            budget=args.budget,
            trials=args.trials,
            replications=args.replications,
            final_replications=args.final_replications,
            finalists=args.finalists,
            batch=args.batch,
            seed=args.seed,
            threads=args.threads,
            tolerance=args.tolerance,
            progress=progress,
        )
    finally:
        bar.close()
    print("\n".join(opt.verdict))
    print(
        f"\nfinalists (each on the same {opt.settings['final_replications']} fresh paired replications; "
        "means per replication):"
    )
    print(opt.table())
    if args.out:
        opt.save(args.out, args.name)
        print(f"optimisation '{args.name}' added to {args.out}")
    if args.variant_out:
        print(f"chosen plan written to {opt.save_variant(args.variant_out)}")
    if args.trials_csv:
        opt.trials.to_csv(args.trials_csv, index=False)
        print(f"plans written to {args.trials_csv}")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.verb == "optimize":  # the alias: messages and extras say optimise
        args.verb = "optimise"
    from .errors import ScenarioError, StudyError

    try:
        if args.verb == "report":
            from .htmlreport import report

            path = report(args.study, args.out, title=args.title)
            print(f"report written to {path}")
            return 0
        if args.verb == "optimise":
            return _optimise(args)
        from .app import serve

        return serve(
            args.scenarios, port=args.port, replications=args.replications, save_dir=args.save_dir
        )
    except (ScenarioError, StudyError, ValueError, TypeError, FileNotFoundError) as e:
        print(f"lcsim {args.verb}: {e}" if "\n" not in str(e) else str(e), file=sys.stderr)
        return 2
    except ImportError as e:  # an optional dependency: name the extra that installs it
        error = e if isinstance(e, MissingExtraError) else missing_extra(args.verb, e)
        print(f"lcsim {args.verb}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
