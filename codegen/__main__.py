"""Regenerate (or check) every generated file from openapi/.

python -m codegen            write the generated files
python -m codegen --check    exit 1 if a committed generated file differs from the spec's
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rendered_files() -> dict[Path, str]:
    """Every file the templates produce, by path: the typed operations and their docs."""
    from codegen.docs import render_api_md
    from codegen.examples import render_examples
    from codegen.models import MODELS, generated_models, split_clicksend
    from codegen.params import render_params
    from codegen.resources import render_resources
    from codegen.spec import clicksend_resources

    resources = clicksend_resources()
    models = generated_models()
    return {
        **models,
        **split_clicksend(models[MODELS / "clicksend.py"], resources),
        ROOT / "docs" / "api.md": render_api_md(resources),
        **render_resources(resources),
        **render_examples(resources),
        **render_params(resources),
    }


def sync_files(files: dict[Path, str], check: bool) -> bool:
    ok = True
    from codegen.models import MODELS

    for path in sorted((MODELS / "_clicksend").glob("*.py")):  # a module no schema maps to any more
        if path not in files:
            if check:
                sys.stderr.write(f"stale: {path.relative_to(ROOT)}\n")
                ok = False
            else:
                path.unlink()
    for path, text in files.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if check:
            sys.stderr.write(f"stale: {path.relative_to(ROOT)}\n")
            ok = False
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    ok = sync_files(rendered_files(), args.check)
    if args.check:
        print("codegen-check: generated files are up to date" if ok else "codegen-check: STALE")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
