"""``python -m lcsim report|app``: the verbs of the ``lcsim`` command that are made in Python (the
C++ program hands them here). Exit 0 ok, 2 bad input (one line naming the file), 1 internal error."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lcsim", description="lcsim's pages for strategists")
    verbs = parser.add_subparsers(dest="verb", required=True)
    report = verbs.add_parser("report", help="write a study as one self-contained HTML page")
    report.add_argument("study", help="the study file (.h5)")
    report.add_argument("--out", "-o", required=True, help="the HTML file to write")
    report.add_argument("--title", help="the page title (default: the study's file name)")
    app = verbs.add_parser("app", help="what-if in the browser, on 127.0.0.1")
    app.add_argument("scenarios", nargs="*", help="baseline scenarios to offer (default: the bundled ones)")
    app.add_argument("--port", type=int, default=8050)
    app.add_argument("--replications", type=int, default=None)
    app.add_argument("--save-dir", default=None)
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .errors import ScenarioError, StudyError

    try:
        if args.verb == "report":
            from .htmlreport import report

            path = report(args.study, args.out, title=args.title)
            print(f"report written to {path}")
            return 0
        from .app import serve

        return serve(args.scenarios, port=args.port, replications=args.replications, save_dir=args.save_dir)
    except (ScenarioError, StudyError, ValueError, FileNotFoundError) as e:
        print(f"lcsim {args.verb}: {e}" if "\n" not in str(e) else str(e), file=sys.stderr)
        return 2
    except ImportError as e:
        print(f"lcsim {args.verb}: {e.name or e} is not installed: pip install 'lcsim[app]'", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
