"""A catalog as one self-contained web page: a sortable, filterable table of strata and each record's network.

The page (:func:`explorer_html`) is a single HTML file with its CSS, its
script and its drawings inline (no CDN, nothing fetched), so it opens from a
disk, an e-mail or a documentation site alike. Its header names the
architecture ``d_0, ..., d_h``, the spectrum ``s_1 > ... > s_m`` of ``Syx``,
the counts (strata, by class, by escape order) and the provenance of the
catalog; its table has one row per stratum: the learnt set ``J``, the class,
the escape order ``m`` (the loss falls like ``-c eps^m`` along the cheapest
way down; 2 = strict), the Hessian inertia (negative / zero / positive
eigenvalues), the critical value ``L_J = L_* + 1/2 sum_{k not in J} s_k^2``
and the numbers of verified unstable / stable directions. A row opens its
record: the representative point drawn as a network (:func:`network_svg`,
edge ``j -> k`` coloured and thickened by ``A[j, k]`` as in
:func:`~geodln.plots.network.draw_network`), its certificates and its
verified directions.

The filters are read from the page's address on load, ``?class=strict_saddle&order=3&q=v1``,
and a sort from ``&sort=critical_value&dir=desc``; the address follows the
controls, so a filtered view can be shared as a link. Every text written into
the page is escaped (:func:`html.escape`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from html import escape
from pathlib import Path

import numpy as np
from matplotlib.colors import to_hex

from ..io.files import json_default
from ..landscape.critical import KINDS
from ..landscape.labels import format_learned
from ..network.topology import Topology, layered
from .network import edge_polyline, edge_styles, node_layout
from .style import STYLE, unit_numbers

__all__ = ["explorer_html", "network_svg", "page_provenance", "PAGE", "COLUMNS"]

PAGE = "geodln catalog explorer"
"""What the page's embedded provenance names itself: how geodln recognises a page it wrote."""
_PROVENANCE = re.compile(r'<script type="application/json" id="geodln-page">(.*?)</script>', re.S)
_HEAD_BYTES = 1 << 16  # the provenance sits in the page's head, within its first 64 KiB

# The drawing's grid, in CSS pixels: one column per layer, one row per unit.
_COLUMN, _ROW, _MARGIN, _RADIUS = 110, 34, 34, 10
_PX_PER_PT = 4 / 3  # the edge widths of the shared encoding are in points (matplotlib's unit)

# (key, heading, type, title): the columns of the table of strata, in order; "num" sorts numerically.
COLUMNS = (
    ("id", "id", "text", "the record's id in critical_points.jsonl"),
    ("learned", "J", "text", "the learnt modes (1-based, by decreasing singular value)"),
    ("kind", "class", "text", "global minimum, strict saddle or nonstrict saddle"),
    ("escape_order", "m", "num", "escape order: the loss falls like -c eps^m along the cheapest way down (2 = strict)"),
    ("negative", "H\u2212", "num", "Hessian eigenvalues below zero"),
    ("zero", "H0", "num", "Hessian eigenvalues counted as zero"),
    ("positive", "H+", "num", "Hessian eigenvalues above zero"),
    ("critical_value", "L_J", "num", "critical value L_J = L_* + 1/2 sum of s_k^2 over the unlearnt modes"),
    ("unstable_dim", "uns.", "num", "dimension of the verified unstable set"),
    ("stable_dim", "st.", "num", "dimension of the verified stable set"),
    ("stratum", "stratum", "text", "the stratum: J and its pieces (chains of links from layer a to b)"),
)


def explorer_html(catalog, provenance: dict) -> str:
    """The page of a catalog: header, table of strata, one section per record, as one HTML text.

    Parameters
    ----------
    catalog : Catalog
        A catalog of a layered network (:meth:`geodln.catalog.store.Catalog.load`).
    provenance : dict
        What made the page (:func:`geodln.io.files.provenance`), embedded in
        its head as JSON with ``"page": PAGE`` (read back by :func:`page_provenance`).

    Returns
    -------
    str
        A complete HTML5 document, with no reference to any other file.
    """
    manifest = catalog.manifest
    top = layered(manifest["parameters"]["widths"])
    records = list(catalog.records)
    embedded = json.dumps({"page": PAGE, **provenance}, default=json_default, sort_keys=True).replace("</", "<\\/")
    title = f"geodln catalog {','.join(map(str, top.widths))}"
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="geodln {escape(str(provenance.get("geodln_version", "")))}">',
        f'<script type="application/json" id="geodln-page">{embedded}</script>',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        _header(manifest, top, records, title),
        '<main><section id="strata">',
        _controls(records),
        _table(records),
        '</section><section id="records"><p class="placeholder">Click a row to see its record: the network '
        "at its representative point, its certificates and its verified directions.</p>",
        *(_record_section(catalog, top, rec) for rec in records),
        "</section></main>",
        f"<script>{_SCRIPT}</script></body></html>",
        "",
    ])


def page_provenance(path) -> dict | None:
    """The provenance embedded in a page that :func:`explorer_html` wrote, or None for any other file.

    Examples
    --------
    >>> page_provenance("no-such-page.html") is None
    True
    """
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    match = _PROVENANCE.search(head)
    if match is None:
        return None
    try:
        obj = json.loads(match.group(1))
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and obj.get("page") == PAGE and "geodln_version" in obj else None


def _kind_label(kind: str) -> str:
    return STYLE["kinds"].get(kind, {}).get("label", kind.replace("_", " "))


def _order_label(order) -> str:
    return "\u2013" if order is None else str(order)


def _header(manifest: dict, top: Topology, records: list, title: str) -> str:
    """The architecture, the spectrum, the counts and the provenance of the catalog."""
    params = manifest["parameters"]
    spectrum = ", ".join(f"{s:g}" for s in params["spectrum"])
    data = params.get("data")
    source = ("whitened synthetic data (Sxx = I) of seed " f"{params.get('seed')}" if data is None else
              f"real data: X of shape {tuple(data['shape_X'])}, Y of shape {tuple(data['shape_Y'])}, "
              f"sha256 {data['sha256'][:12]}\u2026 (the spectrum is that of Syx Sxx^(-1/2))")
    kinds = Counter(r["kind"] for r in records)
    orders = Counter(r["escape_order"] for r in records)
    by_kind = "".join(f'<li><span class="dot {escape(k)}"></span>{kinds[k]} {escape(_kind_label(k))}</li>'
                      for k in KINDS)
    by_order = "".join(f"<li>{n} of escape order {m}</li>" if m is not None else
                       f"<li>{n} without one (global minima)</li>"
                       for m, n in sorted(orders.items(), key=lambda item: (item[0] is None, item[0] or 0)))
    left = manifest.get("n_left_out") or 0
    capped = f"<p>{left} more strata were left out by --max-per-set {escape(str(params.get('max_per_set')))}.</p>" if left else ""
    return (f"<header><h1>{escape(title)}</h1>"
            f'<p class="arch">Fully connected layered network, widths d<sub>0</sub>, \u2026, d<sub>h</sub> = '
            f'<b id="widths">{escape(", ".join(map(str, top.widths)))}</b> (depth h = {top.depth}, '
            f"{top.n} nodes, {top.n_params} weights); singular values of Syx: "
            f'<b id="spectrum">{escape(spectrum)}</b>; {escape(source)}.</p>'
            f'<div class="counts"><p><b id="n-strata">{len(records)}</b> strata</p>'
            f'<ul id="by-class">{by_kind}</ul><ul id="by-order">{by_order}</ul></div>{capped}'
            f"{_provenance(manifest)}</header>")


def _provenance(manifest: dict) -> str:
    """The catalog's provenance (versions, commands, time, seed) and its conventions, folded."""
    keys = ("command", "created_at", "geodln_version", "numpy_version", "scipy_version", "networkx_version",
            "geomstats_version", "python_version", "seed", "schema_version")
    rows = [(key, manifest[key]) for key in keys if key in manifest]
    saddles = manifest.get("saddles")
    if saddles:
        rows += [("saddles: command", saddles.get("command")), ("saddles: created_at", saddles.get("created_at")),
                 ("saddles: directions verified", f"{saddles.get('n_verified')} of {saddles.get('n_directions')}")]
    rows += [(f"convention: {key}", text) for key, text in manifest.get("conventions", {}).items()]
    rows += [(f"tolerance: {key}", value) for key, value in manifest.get("tolerances", {}).items()]
    body = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
    return f'<details id="provenance"><summary>provenance</summary><table>{body}</table></details>'


def _controls(records: list) -> str:
    """The text filter and the class and escape-order selects (their names are the address's keys)."""
    kinds = "".join(f'<option value="{escape(k)}">{escape(_kind_label(k))}</option>' for k in KINDS)
    orders = sorted({r["escape_order"] for r in records if r["escape_order"] is not None})
    order_options = "".join(f'<option value="{m}">{m}</option>' for m in orders)
    if any(r["escape_order"] is None for r in records):
        order_options += '<option value="none">\u2013 (none)</option>'
    return ('<form id="filters" onsubmit="return false">'
            '<label>filter <input id="filter-q" name="q" type="search" '
            'placeholder="id, J, class or stratum, e.g. v1[0,1]"></label>'
            f'<label>class <select id="filter-class" name="class"><option value="">all</option>{kinds}</select></label>'
            f'<label>escape order <select id="filter-order" name="order"><option value="">all</option>'
            f"{order_options}</select></label>"
            f'<span class="shown"><b id="n-shown">{len(records)}</b> of {len(records)} shown</span></form>')


def _table(records: list) -> str:
    """The table of strata: one row per record, each cell with its value to sort by in ``data-sort``."""
    head = "".join(f'<th data-key="{key}" data-type="{kind}" title="{escape(tip)}">{escape(name)}</th>'
                   for key, name, kind, tip in COLUMNS)
    rows = "".join(_row(i, rec) for i, rec in enumerate(records))
    return (f'<div class="scroll"><table id="strata-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def _row(index: int, rec: dict) -> str:
    """One stratum as a table row; ``data-kind``, ``data-order`` and ``data-search`` serve the filters."""
    h, order, J = rec["hessian"], rec["escape_order"], rec["learned"]
    dims = [rec.get("unstable_dim"), rec.get("stable_dim")]
    learned, label = format_learned(J), _kind_label(rec["kind"])
    rid, kind, stratum, value = escape(rec["id"]), escape(rec["kind"]), rec.get("stratum", ""), rec["critical_value"]
    search = " ".join([rec["id"], learned, label, rec["kind"], stratum]).lower()
    by_size = f"{len(J):03d}" + "".join(f"{k:03d}" for k in J)  # {} < {1} < {2} < {1,2}: by |J|, then by modes
    blank = "" if order is None else order
    cells = [
        f'<td><a href="#{rid}">{rid}</a></td>',
        f'<td data-sort="{by_size}">{escape(learned)}</td>',
        f'<td data-sort="{kind}"><span class="dot {kind}"></span>{escape(label)}</td>',
        f'<td data-sort="{blank}">{escape(_order_label(order))}</td>',
        *(f"<td>{int(h[key])}</td>" for key in ("negative", "zero", "positive")),
        f'<td data-sort="{value!r}">{value:.6g}</td>',
        *(f'<td data-sort="{"" if d is None else d}">{_order_label(d)}</td>' for d in dims),
        f'<td class="stratum">{escape(stratum)}</td>',
    ]
    return (f'<tr data-id="{rid}" data-index="{index}" data-kind="{kind}" data-order="{"none" if order is None else order}" '
            f'data-search="{escape(search)}">{"".join(cells)}</tr>')


def _record_section(catalog, top: Topology, rec: dict) -> str:
    """A record: what certifies it, its network at the representative point, its verified directions."""
    h, g = rec["hessian"], rec["horizontal_hessian"]
    facts = [
        ("class", _kind_label(rec["kind"])),
        ("critical value L_J", repr(rec["critical_value"])),
        ("loss at the point", repr(rec["loss"]) if "loss" in rec else None),
        ("gradient norm", f"{rec['grad_norm']:.3e}"),
        ("Hessian inertia \u2212/0/+", f"{h['negative']}/{h['zero']}/{h['positive']} "
                                        f"(eigenvalues in [{h['min']:.4g}, {h['max']:.4g}])"),
        ("horizontal Hessian \u2212/0/+", f"{g['negative']}/{g['zero']}/{g['positive']}"),
        ("escape order m", _order_label(rec["escape_order"])),
        ("tightened", rec.get("tightened")),
        ("layer ranks", ", ".join(map(str, rec["layer_ranks"]))),
        ("orbit / stabiliser dimension", f"{rec['orbit_dim']} / {rec['stabilizer_dim']}"),
        ("unstable / stable / centre dimension",
         None if rec.get("unstable_dim") is None else f"{rec['unstable_dim']} / {rec['stable_dim']} / {rec['center_dim']}"),
        ("cheapest escape", _escape_path(rec.get("escape"))),
    ]
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts if v is not None)
    name = f"{rec['id']}: J = {format_learned(rec['learned'])}, {rec.get('stratum', '')}"
    return (f'<section class="record" id="{escape(rec["id"])}"><h2>{escape(name)}</h2>'
            f"{network_svg(top, catalog.point(rec), title=f'the network at the representative point of {name}')}"
            f"<dl>{rows}</dl>{_directions(rec)}</section>")


def _links(links) -> str:
    """A path of new links, ``[layer, from, to]`` each, as ``W_1: v_1->e_0, W_2: ...``."""
    return ", ".join(f"W_{layer}: {a}\u2192{b}" for layer, a, b in links)


def _escape_path(escape_info) -> str | None:
    if not escape_info:
        return None
    return (f"mode {escape_info.get('mode')} by {len(escape_info.get('links', []))} new links "
            f"({_links(escape_info.get('links', []))}), measured order {escape_info.get('measured_order', float('nan')):.3f}")


def _directions(rec: dict) -> str:
    """The verified directions of a saddle: one row each, with its order, mode, eigenvalue or path, verdict."""
    items = [("unstable", d) for d in rec.get("unstable_directions") or []]
    items += [("stable", d) for d in rec.get("stable_directions") or []]
    if not items:
        return ("<p>No stable or unstable directions in this record" +
                (" (a global minimum)." if rec["kind"] == "global_minimum" else " (fill them in with geodln saddles).")
                + "</p>")
    rows = []
    for side, d in items:
        value = d.get("eigenvalue")
        how = f"Hessian eigenvalue {value:.6g}" if value is not None else _links(d.get("links") or [])
        verdict = "verified" if d["verified"] else "NOT verified"
        rows.append(f'<tr class="{side}"><td>{side}</td><td>{escape(_order_label(d["order"]))}</td>'
                    f'<td>{escape(_order_label(d["mode"]))}</td><td>{escape(how)}</td>'
                    f'<td class="{"ok" if d["verified"] else "bad"}">{verdict}</td></tr>')
    return ('<table class="directions"><thead><tr><th>set</th><th>order</th><th>mode</th><th>direction</th>'
            f"<th>flow check</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def network_svg(top: Topology, A, title: str = "") -> str:
    """A network as an inline SVG drawing: layers as columns, units as nodes, every edge by its weight.

    The drawing of :func:`~geodln.plots.network.draw_network`'s left panel
    without matplotlib, small enough to put one per record into a page: the
    same layout (:func:`~geodln.plots.network.node_layout`) and the same
    colours and widths (:func:`~geodln.plots.network.edge_styles`: red
    positive, blue negative, thicker for larger ``|A[j, k]|``, grey for 0);
    each edge's weight is its tooltip.

    Parameters
    ----------
    top : Topology
    A : array-like, shape=[n, n]
        Weighted adjacency matrix (``A[j, k]`` = weight of the edge ``j -> k``).
    title : str
        The drawing's accessible name.

    Returns
    -------
    str
        An ``<svg>`` element.

    Examples
    --------
    >>> svg = network_svg(layered([2, 3, 1]), layered([2, 3, 1]).mask)
    >>> svg.count("<path "), svg.count("<circle ")
    (9, 6)
    """
    A = np.asarray(A, dtype=float)
    if A.shape != (top.n, top.n):
        raise ValueError(f"A has shape {A.shape}; this network has n = {top.n} nodes, so A must be ({top.n}, {top.n})")
    pos = node_layout(top)
    tall = max(top.widths)
    arcs = 0 if top.is_layered else _ROW * 0.35 * top.depth  # room above for the arcs of skip edges
    width, height = 2 * _MARGIN + _COLUMN * top.depth, 2 * _MARGIN + _ROW * (tall - 1) + 18 + arcs

    def to_svg(points):  # layout units (y upwards) to pixels (y downwards): the first unit is on top
        y = _MARGIN + arcs + _ROW * ((tall - 1) / 2 - points[:, 1])
        return np.column_stack([_MARGIN + _COLUMN * points[:, 0], y])

    xy = to_svg(pos)
    edges = edge_styles(top, A)
    parts = [f'<svg class="network" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:g}" '
             f'width="{width}" height="{height:g}" role="img"><title>{escape(title)}</title>']
    zero = []  # the edges of weight 0 (thin, grey), one path for all of them
    for j, k, w, color, lw in zip(edges.source, edges.target, edges.weight, edges.colors, edges.widths):
        line = to_svg(edge_polyline(pos[j], pos[k], top.layer[k] - top.layer[j] > 1))  # skip edges arched
        path = "M" + "L".join(f"{px:.4g} {py:.4g}" for px, py in line)
        if w == 0:
            zero.append(path)
            continue
        parts.append(f'<path d="{path}" stroke="{to_hex(color)}" stroke-width="{lw * _PX_PER_PT:.1f}">'
                     f"<title>A[{j},{k}] = {w:.4g}</title></path>")
    if zero:
        parts.insert(1, f'<path class="zero" d="{"".join(zero)}" stroke-width="{edges.widths.min() * _PX_PER_PT:.2f}">'
                        "<title>weight 0</title></path>")
    hidden = (top.layer > 0) & (top.layer < top.depth)
    for (cx, cy), unit, inner in zip(xy, unit_numbers(top), hidden):
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{_RADIUS}" class="{"hidden" if inner else "io"}"/>'
                     f'<text x="{cx:.1f}" y="{cy + 4:.1f}">{unit}</text>')
    parts += [f'<text class="layer" x="{_MARGIN + _COLUMN * i}" y="{height - 6:g}">layer {i}</text>'
              for i in range(top.depth + 1)]
    return "".join(parts) + "</svg>"


_CSS = """
:root{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:14px;color:#1b1b1b;background:#fff}
body{margin:0 1.2rem 2rem}
header h1{font-size:1.4rem;margin:.8rem 0 .3rem}
header p{margin:.3rem 0}
.counts{display:flex;gap:2rem;align-items:flex-start;flex-wrap:wrap}
.counts ul{margin:.3rem 0;padding-left:1.1rem}
details#provenance table{font-size:12px;border-collapse:collapse}
details#provenance th{text-align:left;padding-right:1rem;font-weight:600;vertical-align:top}
main{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1.2rem;margin-top:.8rem}
@media (max-width:900px){main{grid-template-columns:1fr}}
#filters{display:flex;gap:1rem;flex-wrap:wrap;align-items:center;margin-bottom:.5rem}
#filters input{width:16rem}
.scroll{max-height:80vh;overflow:auto;border:1px solid #ddd}
#strata-table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
#strata-table th{position:sticky;top:0;background:#f3f3f3;cursor:pointer;user-select:none;text-align:left;
 padding:.3rem .4rem;border-bottom:1px solid #ccc;white-space:nowrap}
#strata-table th[aria-sort=ascending]::after{content:" \\25B2"}
#strata-table th[aria-sort=descending]::after{content:" \\25BC"}
#strata-table td{padding:.2rem .4rem;border-bottom:1px solid #eee;white-space:nowrap}
#strata-table td.stratum{white-space:normal;font-family:ui-monospace,monospace;font-size:12px}
#strata-table tbody tr{cursor:pointer}
#strata-table tbody tr:hover{background:#f6f9ff}
#strata-table tbody tr.selected{background:#e4eeff}
.dot{display:inline-block;width:.7em;height:.7em;border-radius:50%;margin-right:.35em;vertical-align:baseline}
.dot.global_minimum{background:#009E73}.dot.strict_saddle{background:#CC79A7}.dot.nonstrict_saddle{background:#0072B2}
#records{position:sticky;top:0;align-self:start;max-height:100vh;overflow:auto}
.record{display:none}
.record:target{display:block}
#records:has(.record:target) .placeholder{display:none}
.record h2{font-size:1.05rem;font-family:ui-monospace,monospace}
.record dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;font-size:13px}
.record dt{font-weight:600}.record dd{margin:0}
svg.network{max-width:100%;height:auto;display:block;margin:.4rem 0}
svg.network circle.io{fill:#fff;stroke:#000;stroke-width:1}
svg.network circle.hidden{fill:#d9d9d9;stroke:#000;stroke-width:1}
svg.network text{font-size:11px;text-anchor:middle}
svg.network text.layer{fill:#555}
svg.network path{fill:none;stroke-linecap:round}
svg.network path.zero{stroke:#bfbfbf}
table.directions{border-collapse:collapse;font-size:12px;margin-top:.6rem}
table.directions th,table.directions td{padding:.15rem .5rem;border-bottom:1px solid #eee;text-align:left}
td.ok{color:#007a58}td.bad{color:#b00020;font-weight:600}
"""

# Filters and sorting. Every filter is read from the address on load (?class=...&order=...&q=..., and
# &sort=KEY&dir=asc|desc) and written back to it, so a view is a link; rows are hidden, never removed.
_SCRIPT = """
(function () {
  "use strict";
  var table = document.getElementById("strata-table"), body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows), heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var q = document.getElementById("filter-q"), kind = document.getElementById("filter-class");
  var order = document.getElementById("filter-order"), shown = document.getElementById("n-shown");
  var sorted = null;
  function choose(select, value) {
    var ok = Array.prototype.some.call(select.options, function (o) { return o.value === value; });
    select.value = ok ? value : "";
  }
  function address() {
    var p = new URLSearchParams(), text = q.value.trim();
    if (kind.value) p.set("class", kind.value);
    if (order.value) p.set("order", order.value);
    if (text) p.set("q", text);
    if (sorted) { p.set("sort", sorted.key); p.set("dir", sorted.dir > 0 ? "asc" : "desc"); }
    var s = p.toString();
    try { history.replaceState(null, "", location.pathname + (s ? "?" + s : "") + location.hash); } catch (e) {}
  }
  function apply() {
    var text = q.value.trim().toLowerCase(), k = kind.value, o = order.value, n = 0;
    rows.forEach(function (r) {
      var ok = (!k || r.dataset.kind === k) && (!o || r.dataset.order === o) &&
               (!text || r.dataset.search.indexOf(text) >= 0);
      r.hidden = !ok;
      if (ok) n += 1;
    });
    shown.textContent = String(n);
    address();
  }
  function value(r, i, numeric) {
    var c = r.cells[i], v = c.hasAttribute("data-sort") ? c.getAttribute("data-sort") : c.textContent;
    if (!numeric) return v;
    return v === "" ? Infinity : parseFloat(v);
  }
  function sortBy(i, dir) {
    var numeric = heads[i].dataset.type === "num";
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    heads[i].setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = value(a, i, numeric), y = value(b, i, numeric);
      if (x === y) return a.dataset.index - b.dataset.index;
      if (x === Infinity) return 1;
      if (y === Infinity) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    sorted = {key: heads[i].dataset.key, dir: dir};
  }
  heads.forEach(function (th, i) {
    th.addEventListener("click", function () {
      sortBy(i, th.getAttribute("aria-sort") === "ascending" ? -1 : 1);
      address();
    });
  });
  function select() {
    var id = decodeURIComponent(location.hash.slice(1));
    rows.forEach(function (r) { r.classList.toggle("selected", r.dataset.id === id); });
  }
  body.addEventListener("click", function (e) {
    var tr = e.target.closest("tr");
    if (tr && e.target.tagName !== "A") location.hash = tr.dataset.id;
  });
  window.addEventListener("hashchange", select);
  [q, kind, order].forEach(function (c) { c.addEventListener("input", apply); });
  var p = new URLSearchParams(location.search);
  q.value = p.get("q") || "";
  choose(kind, p.get("class") || "");
  choose(order, p.get("order") || "");
  var key = p.get("sort"), i = heads.findIndex(function (h) { return h.dataset.key === key; });
  if (i >= 0) sortBy(i, p.get("dir") === "desc" ? -1 : 1);
  apply();
  select();
  document.documentElement.dataset.ready = "true";
})();
"""
