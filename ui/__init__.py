"""The Space's Gradio tabs; app.py puts them together. All logic lives in core/."""
