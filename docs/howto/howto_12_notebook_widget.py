"""
Explore in a notebook
=====================

``relusum.widget`` puts the explorer of ``relusum explore`` into a Jupyter notebook
(JupyterLab, Notebook 7, VS Code): the same page -- units slider, the fitting methods,
the "army" of units and hand mode -- drawn in the output cell, with its fits run by the
kernel. It needs the ``notebook`` extra::

    pip install 'relusum[notebook]'

In a notebook, the widget is the last expression of a cell::

    import relusum

    w = relusum.widget("sin(x)", domain=(-3, 3), units=8)
    w

Move the slider, switch the method, drag knots in hand mode; then keep working with
the sum on screen in the next cell. ``w.model`` is always the :class:`~relusum.ReluSum`
the widget shows (``w.report`` its errors), so nothing has to be copied out of the page.

This page runs the same code without a browser: the widget computes its first model at
once, and setting a trait in Python refits and redraws the view as the slider would.
"""

import math

import relusum

w = relusum.widget("sin(x)", domain=(-3, 3), units=8)
print(w)
print("units:", w.model.n_units, " max error:", f"{w.report['max_abs_error']:.3g}")

# %%
# Settings are traitlets, synced both ways with the page: the slider sets ``w.units``, and
# setting it here moves the slider. ``formula``, ``domain`` and ``method`` work the same.
w.units = 24
print("units:", w.model.n_units, " max error:", f"{w.report['max_abs_error']:.3g}")
w.method = "opt-linf"
print(w.method, "max error:", f"{w.report['max_abs_error']:.3g}")

# %%
# The model is an ordinary ``ReluSum``: evaluate it, save it, export it.
model = w.model
print(model(0.5), "vs", math.sin(0.5))
print(model.to_json()[:60], "...")

# %%
# Settings the explorer would refuse are refused here too, with its message:
try:
    w.units = 500
except Exception as exc:  # traitlets.TraitError
    print(type(exc).__name__ + ":", exc)

# %%
# How it works: the widget's front end is the explorer page's own JavaScript module
# (``relusum/explore/static/explorer.js``) with a second, thin transport: where the page
# sends its requests to ``relusum explore`` over HTTP, the widget sends them to the kernel
# as widget messages, where the same request handling answers them. Its bundle is made
# from those files when the widget is first used and loads nothing from the internet.
# Fits run in the kernel's threads; ``relusum.widget(..., workers=2)`` runs them in two
# worker processes instead, stopped at the explorer's time limits.
w.close()
