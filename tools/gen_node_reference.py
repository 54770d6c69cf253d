"""Write the README's node reference from the node classes themselves.

Usage: python tools/gen_node_reference.py   (tests/test_readme.py checks it is up to date)
"""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
START, END = "<!-- node-reference:start -->", "<!-- node-reference:end -->"


def _input_type(spec) -> str:
    return "choice" if isinstance(spec[0], list) else spec[0]


def node_reference(mappings: dict, names: dict) -> str:
    """Markdown: one section per node (display name, class key, description, inputs, outputs)."""
    out = []
    for key, cls in mappings.items():
        out += [f"### {names[key]}", "", f"`{key}` · category *{cls.CATEGORY}*", "",
                cls.DESCRIPTION, "", "| input | type | default | what it does |", "|---|---|---|---|"]
        types = cls.INPUT_TYPES()
        for section in ("required", "optional"):
            for name, spec in types.get(section, {}).items():
                options = spec[1] if len(spec) > 1 else {}
                default = options.get("default", "")
                label = name if section == "required" else f"{name} (optional)"
                out.append(f"| {label} | {_input_type(spec)} | {default} | {options.get('tooltip', '')} |")
        out += ["", "| output | type | what it is |", "|---|---|---|"]
        returns = getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES)
        for name, kind, tip in zip(returns, cls.RETURN_TYPES, cls.OUTPUT_TOOLTIPS):
            out.append(f"| {name} | {kind} | {tip} |")
        out.append("")
    return "\n".join(out)


def render(readme: str, mappings: dict, names: dict) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{node_reference(mappings, names)}\n{END}{tail}"


def main():
    sys.path.insert(0, str(ROOT))
    from run_workflow import load_pack

    pack = load_pack()
    path = ROOT / "README.md"
    path.write_text(render(path.read_text(), pack.NODE_CLASS_MAPPINGS, pack.NODE_DISPLAY_NAME_MAPPINGS))


if __name__ == "__main__":
    main()
