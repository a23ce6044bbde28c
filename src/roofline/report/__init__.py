"""`roofline report`: one self-contained HTML file — inputs, every chart (interactive, plotly.js
embedded, no network), the result tables and the explain trace."""

from .html import render_report

__all__ = ["render_report"]
