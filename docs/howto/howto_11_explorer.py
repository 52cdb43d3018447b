"""
Explore interactively
=====================

``relusum explore`` opens a local web page (bound to 127.0.0.1) with a units slider, the
fitting methods side by side, an "army" view of the individual units and a hand mode to
drag knots. The page's fits run in the same library code as ``relusum.fit``.

.. image:: /images/explorer.png
   :alt: the explorer page

In a Jupyter notebook the same page is a widget whose fits run in the kernel: see
:ref:`sphx_glr_generated_howto_howto_12_notebook_widget.py`.

Start it with ``relusum explore`` (add ``--no-browser`` on a server). Its options:
"""

from relusum.cli import build_parser

explore = build_parser()._subparsers._group_actions[0].choices["explore"]
print(explore.format_help())
