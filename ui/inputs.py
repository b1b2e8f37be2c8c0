"""Inputs whose values our handlers check, so that a bad value gets our sentence, not Gradio's.

Gradio checks radio and dropdown choices and slider and number ranges before a handler runs, and answers with its
own text: `Value: 'bogus' (type: <class 'str'>) is not in the list of choices: ['add', 'cut']`, the value echoed
whole (100,000 characters came back), or "cannot convert float NaN to integer" from its rounding. These components
have the same frontend as Gradio's and pass what the caller sent through unchanged; each handler then checks it
(`choice` here, `core.options.check_options` for numbers) and says what is wrong in one sentence that never
repeats a long value.
"""
from __future__ import annotations

import gradio as gr


# Each is its Gradio parent with `preprocess` handing the payload on as sent. `is_template` makes Gradio use the
# parent's frontend, which it finds as the class's first base: so no mixin.

class OpenRadio(gr.Radio):
    is_template = True

    def preprocess(self, payload):
        return payload


class OpenDropdown(gr.Dropdown):
    is_template = True

    def preprocess(self, payload):
        return payload


class OpenSlider(gr.Slider):
    """(With precision=0 the API says `int`, as /segment_json's whole number does.)"""

    is_template = True

    def preprocess(self, payload):
        return payload


class OpenNumber(gr.Number):
    is_template = True

    def preprocess(self, payload):
        return payload


def choice(name: str, value, choices) -> str:
    """`value` when it is one of `choices`, else a gr.Error naming the choices (never the value: it may be long)."""
    if isinstance(value, str) and value in choices:
        return value
    words = ", ".join(f'"{c}"' for c in choices)
    raise gr.Error(f"{name} must be one of {words}.", print_exception=False)
