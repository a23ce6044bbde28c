"""API documentation rendered from the OpenAPI document as plain HTML, so /docs works offline
(FastAPI's default Swagger UI pulls its scripts from a CDN)."""

from __future__ import annotations

import json
from html import escape

STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1000px;
       margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }
h2 { margin-top: 2rem; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 1.1rem; }
.m { display: inline-block; min-width: 3.5rem; color: #fff; background: #0072B2; border-radius: 3px; padding: 0 .4rem;
     text-align: center; } .m.post { background: #D55E00; }
table { border-collapse: collapse; font-size: 14px; } th, td { border-bottom: 1px solid #e5e5e5; padding: .2rem .6rem;
text-align: left; vertical-align: top; } code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; }
"""


def _type(schema: dict) -> str:
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"list[{_type(schema.get('items', {}))}]"
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    return schema.get("type", "any")


def _body_table(schema: dict, components: dict) -> str:
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    rows = []
    for name, prop in schema.get("properties", {}).items():
        default = json.dumps(prop["default"]) if "default" in prop else "—"
        meaning = prop.get("description", "").split(" Unit: ")[0]
        unit = prop.get("unit") or "—"  # from the one declaration of options (roofline/options.py)
        rows.append(f"<tr><td><code>{escape(name)}</code></td><td>{escape(_type(prop))}</td><td>{escape(unit)}</td>"
                    f"<td><code>{escape(default)}</code></td><td>{escape(meaning)}</td></tr>")
    if not rows:
        return ""
    return ("<table><tr><th>field</th><th>type</th><th>unit</th><th>default</th><th>meaning</th></tr>"
            + "".join(rows) + "</table>")


def render_docs(spec: dict, base_url: str = "http://127.0.0.1:8000") -> str:
    """The page; `base_url` is the address the server answers on, for the examples."""
    components = spec.get("components", {}).get("schemas", {})
    parts = [f"<h1>{escape(spec['info']['title'])} API {escape(spec['info'].get('version', ''))}</h1>",
             f"<p>{escape(spec['info'].get('description', ''))}</p>",
             '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Errors are always '
             '<code>{"error": "message"}</code>: 404 unknown model, GPU or chart kind; 413 over a cap '
             '(<a href="/api/limits">/api/limits</a>); 422 bad input.</p>']
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            parts.append(f'<h2><span class="m {method}">{method.upper()}</span> {escape(path)}</h2>'
                         f"<p>{escape(op.get('summary', ''))}</p>")
            params = op.get("parameters", [])
            if params:
                rows = "".join(f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p.get('in', ''))}</td>"
                               f"<td>{escape(_type(p.get('schema', {})))}</td></tr>" for p in params)
                parts.append(f"<table><tr><th>parameter</th><th>in</th><th>type</th></tr>{rows}</table>")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                parts.append("<p>JSON body:</p>" + _body_table(body, components))
    example = {"model": "llama-2-7b", "gpu": "a100,h100", "batch_size": 8, "input_len": 1024, "output_len": 256}
    parts.append(f"<h2>Example</h2><pre>curl -s {escape(base_url.rstrip('/'))}/api/estimate -H 'content-type: application/json' \\\n  -d '"
                 + escape(json.dumps(example)) + "'</pre>")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>roofline API</title>'
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
